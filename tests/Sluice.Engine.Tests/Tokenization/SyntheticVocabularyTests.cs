using Sluice.Engine.Formats;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Tests.Tokenization;

/// <summary>Small hand-made GGUF vocabularies for the algorithms' corner cases (no model files needed).</summary>
public sealed class SyntheticVocabularyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private Tokenizer Build(GgufWriter writer)
    {
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".gguf");
        writer.Write(path);
        using var file = GgufFile.Open(path);
        return Tokenizer.FromGguf(file);
    }

    /// <summary>&lt;unk&gt; &lt;s&gt; &lt;/s&gt;, 256 byte tokens (ids 3..258), then the given pieces.</summary>
    private Tokenizer Spm(params (string Text, float Score)[] pieces)
    {
        var texts = new List<string> { "<unk>", "<s>", "</s>" };
        var scores = new List<float> { 0, 0, 0 };
        var types = new List<int> { (int)TokenType.Unknown, (int)TokenType.Control, (int)TokenType.Control };
        for (int b = 0; b < 256; b++)
        {
            texts.Add($"<0x{b:X2}>");
            scores.Add(0);
            types.Add((int)TokenType.Byte);
        }
        foreach (var (text, score) in pieces)
        {
            texts.Add(text);
            scores.Add(score);
            types.Add((int)TokenType.Normal);
        }
        return Build(new GgufWriter()
            .Add("tokenizer.ggml.model", "llama")
            .Add("tokenizer.ggml.tokens", texts.ToArray())
            .Add("tokenizer.ggml.scores", scores.ToArray())
            .Add("tokenizer.ggml.token_type", types.ToArray()));
    }

    [Fact]
    public void Encode_SpmHighestScoringPairFirst_PicksTheBetterSegmentation()
    {
        // "▁ab" can come from "▁a"+"b" or "▁"+"ab"; "ab" scores higher so it forms first.
        var t = Spm(("▁", -1), ("a", -2), ("b", -2), ("▁a", -3), ("ab", -0.5f), ("▁ab", -0.1f), ("bc", -1));
        Assert.Equal([264], t.Encode("ab", addSpecial: false)); // ▁ab
        Assert.Equal([1, 264], t.Encode("ab"));
        Assert.Equal("ab", t.Decode([264]));
    }

    [Fact]
    public void Encode_SpmUnknownCharacter_FallsBackToUtf8ByteTokens()
    {
        var t = Spm(("▁", -1), ("a", -2));
        Assert.Equal([259, 260, 3 + 0xC3, 3 + 0xA9], t.Encode("aé", addSpecial: false));
        Assert.Equal("aé", t.Decode(t.Encode("aé", addSpecial: false)));
    }

    [Fact]
    public void Encode_SpmEqualScores_MergesLeftmostFirst()
    {
        // "aaa": both pairs give "aa" with the same score; the left one wins, leaving "aa"+"a".
        var t = Spm(("▁", -10), ("a", -2), ("aa", -1));
        Assert.Equal([259, 261, 260], t.Encode("aaa", addSpecial: false));
    }

    private Tokenizer Bpe(string pre, string[] extraTokens, string[] merges)
    {
        var texts = Enumerable.Range(0, 256).Select(b => ByteLevel.Encode((byte)b).ToString()).Concat(extraTokens).ToArray();
        return Build(new GgufWriter()
            .Add("tokenizer.ggml.model", "gpt2")
            .Add("tokenizer.ggml.pre", pre)
            .Add("tokenizer.ggml.tokens", texts)
            .Add("tokenizer.ggml.merges", merges)
            .Add("tokenizer.ggml.bos_token_id", 0u));
    }

    [Fact]
    public void Encode_BpeMerges_ApplyInRankOrder()
    {
        // ranks: "b c" before "a b", so "abc" becomes "a"+"bc", not "ab"+"c".
        var t = Bpe("qwen2", ["ab", "bc"], ["b c", "a b"]);
        Assert.Equal(['a', 257], t.Encode("abc"));
        Assert.Equal("abc", t.Decode(t.Encode("abc")));
    }

    [Fact]
    public void Encode_BpeMergeResultMissingFromVocabulary_FallsBackToSingleCharacters()
    {
        var t = Bpe("qwen2", [], ["a b"]);
        Assert.Equal(['a', 'b'], t.Encode("ab"));
    }

    [Fact]
    public void Encode_Llama3IgnoreMerges_EmitsAWholeVocabularyWordUnmerged()
    {
        // "abc" is in the vocabulary but no merge path builds it: llama3 takes it whole, qwen2 cannot.
        var llama3 = Bpe("llama-bpe", ["abc"], []);
        var qwen2 = Bpe("qwen2", ["abc"], []);
        Assert.Equal([256], llama3.Encode("abc", addSpecial: false));
        Assert.Equal(['a', 'b', 'c'], qwen2.Encode("abc"));
        Assert.True(llama3.AddBos);
        Assert.False(qwen2.AddBos);
    }

    [Fact]
    public void FromGguf_UnsupportedTokenizerModel_SaysWhich()
    {
        string path = Path.Combine(_dir, "bert.gguf");
        new GgufWriter().Add("tokenizer.ggml.model", "bert").Add("tokenizer.ggml.tokens", ["a"]).Write(path);
        using var file = GgufFile.Open(path);
        var ex = Assert.Throws<ModelFormatException>(() => Tokenizer.FromGguf(file));
        Assert.Contains("'bert'", ex.Message, StringComparison.Ordinal);
    }
}
