using Sluice.Engine.Tests.Support;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Tests.Tokenization;

/// <summary>Tokenizing against a limit stops early (issue 16: a 7.8 MB prompt took ~230 MB of heap before its length was checked).</summary>
public sealed class TokenLimitTests
{
    [SkippableTheory]
    [InlineData(TestTokenizers.Qwen2)]
    [InlineData(TestTokenizers.LlamaBpe)]
    public void Encode_WindowedPreTokenization_EqualsTheWholeText(string vocab)
    {
        var tokenizer = TestTokenizers.Vocab(vocab);
        var cases = TestTokenizers.TestCases(vocab);
        var rng = new Random(5);
        string text = string.Concat(Enumerable.Range(0, 200).Select(_ => cases[rng.Next(cases.Count)].Text));
        var encoder = new ByteLevelBpeEncoder(tokenizer.Vocabulary);
        var whole = new List<int>();
        encoder.Encode(text, whole, new EncodeScratch(), window: int.MaxValue);
        foreach (int window in new[] { 1, 7, 64, 1000 })
        {
            var windowed = new List<int>();
            encoder.Encode(text, windowed, new EncodeScratch(), window: window);
            Assert.True(whole.SequenceEqual(windowed), $"window {window} differs");
        }
        foreach (var (caseText, ids) in cases)
        {
            var windowed = new List<int>();
            encoder.Encode(caseText, windowed, new EncodeScratch(), window: 3);
            Assert.Equal(ids, windowed);
        }
    }

    [Fact]
    public void Encode_TextLongerThanTheLimitCanHold_ThrowsAtOnce()
    {
        using var model = TestModels.LoadTiny();
        string text = new('a', 8_000_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<TokenLimitExceededException>(() => model.Tokenizer.Encode(text, addSpecial: true, parseSpecial: true, maxTokens: 1000));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 100_000, "tokenized before refusing");
        Assert.Equal(1000, ex.Limit);
        Assert.Equal(8_000_000, ex.Characters);
    }

    [Fact]
    public void Encode_TokensPassTheLimit_StopsWithinAWindow()
    {
        using var model = TestModels.LoadTiny();
        // the byte vocabulary: about one token per character, so the cheap length bound does not refuse it
        int limit = 200_000;
        string text = string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 40_000)); // 1.8M characters
        Assert.True(text.Length <= (long)limit * model.Tokenizer.Vocabulary.LongestPieceChars);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<TokenLimitExceededException>(() => model.Tokenizer.Encode(text, addSpecial: true, parseSpecial: true, maxTokens: limit));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 40_000_000, $"allocated {allocated:N0} bytes");
    }

    [Fact]
    public void Encode_WithinTheLimit_EqualsUnlimited()
    {
        using var model = TestModels.LoadTiny();
        string text = string.Concat(Enumerable.Repeat("windows of text, <|im_start|> and more ", 2000));
        var unlimited = model.Tokenizer.Encode(text, addSpecial: true, parseSpecial: true);
        Assert.Equal(unlimited, model.Tokenizer.Encode(text, addSpecial: true, parseSpecial: true, maxTokens: unlimited.Length));
        Assert.Throws<TokenLimitExceededException>(() => model.Tokenizer.Encode(text, addSpecial: true, parseSpecial: true, maxTokens: unlimited.Length - 1));
    }
}
