using System.Diagnostics;
using System.Text;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Tokenization;

public sealed class EdgeCaseTests
{
    [SkippableFact]
    public void Encode_EmptyString_IsJustBosWhereTheModelAddsOne()
    {
        Assert.Equal([1], TestTokenizers.Vocab(TestTokenizers.LlamaSpm).Encode(""));
        Assert.Empty(TestTokenizers.Vocab(TestTokenizers.LlamaSpm).Encode("", addSpecial: false));
        Assert.Empty(TestTokenizers.Vocab(TestTokenizers.Qwen2).Encode(""));
        Assert.Equal([128000], TestTokenizers.Vocab(TestTokenizers.LlamaBpe).Encode(""));
        Assert.Equal("", TestTokenizers.Vocab(TestTokenizers.LlamaSpm).Decode([]));
    }

    [SkippableFact]
    public void Encode_SingleSpace_IsOneToken()
    {
        Assert.Equal([259], TestTokenizers.Vocab(TestTokenizers.LlamaSpm).Encode(" ", addSpecial: false)); // "▁▁"
        Assert.Equal([220], TestTokenizers.Vocab(TestTokenizers.Qwen2).Encode(" ", addSpecial: false));
        Assert.Equal([220], TestTokenizers.Vocab(TestTokenizers.LlamaBpe).Encode(" ", addSpecial: false));
    }

    [SkippableTheory]
    [InlineData(TestTokenizers.LlamaSpm)]
    [InlineData(TestTokenizers.Qwen2)]
    [InlineData(TestTokenizers.LlamaBpe)]
    public void Encode_LoneSurrogates_AreReadAsReplacementCharacters(string file)
    {
        var t = TestTokenizers.Vocab(file);
        var ids = t.Encode("a\uD800b\uDC00c\uD83D", addSpecial: false);
        Assert.Equal(t.Encode("a\uFFFDb\uFFFDc\uFFFD", addSpecial: false), ids);
        Assert.Equal("a\uFFFDb\uFFFDc\uFFFD", t.Decode(ids));
    }

    [SkippableTheory]
    [InlineData(TestTokenizers.LlamaSpm)]
    [InlineData(TestTokenizers.Qwen2)]
    [InlineData(TestTokenizers.LlamaBpe)]
    public void Encode_HundredKilobytes_RoundTripsInReasonableTime(string file)
    {
        var t = TestTokenizers.Vocab(file);
        var sb = new StringBuilder();
        var rng = new Random(3);
        string[] words = ["the", "tokenizer", "Übergrößenträger", "東京", "🦙", "1234567", "x_y", "\n\n", "  ", "don't", "(ok)", "\t", "émigré"];
        while (sb.Length < 100_000)
        {
            sb.Append(words[rng.Next(words.Length)]).Append(rng.Next(4) == 0 ? "" : " ");
        }
        string mixed = sb.ToString();
        string oneWord = new('a', 100_000); // a single 100 KB pre-token: no cache, worst case for merging
        var sw = Stopwatch.StartNew();
        var mixedIds = t.Encode(mixed, addSpecial: false);
        var wordIds = t.Encode(oneWord, addSpecial: false);
        sw.Stop();
        Assert.Equal(mixed, t.Decode(mixedIds));
        Assert.Equal(oneWord, t.Decode(wordIds));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(3), $"200 KB took {sw.Elapsed.TotalMilliseconds:F0} ms");
    }

    [SkippableFact]
    public void EncodeAndDecode_InvalidArguments_Throw()
    {
        var t = TestTokenizers.Vocab(TestTokenizers.Qwen2);
        Assert.Throws<ArgumentNullException>(() => t.Encode(null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Decode([t.VocabSize]));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.TokenBytes(-1));
    }
}
