using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Models.Synthesis.Vocabulary;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Models.Synthesis.Vocabulary;

public sealed class Cl100kVocabularyTests
{
    private static readonly Lazy<Dictionary<string, GgufValue>> Cl100k =
        new(() => SynthVocabulary.Cl100k().Metadata.ToDictionary(kv => kv.Key, kv => kv.Value));

    private static string[] Tokens => (string[])Cl100k.Value["tokenizer.ggml.tokens"].Value;

    private static string[] Merges => (string[])Cl100k.Value["tokenizer.ggml.merges"].Value;

    private static int[] Types => (int[])Cl100k.Value["tokenizer.ggml.token_type"].Value;

    [Fact]
    public void Cl100k_Tokens_KeepTiktokenIdsSpelledInByteLevelUnicode()
    {
        Assert.Equal(100277, Tokens.Length);
        Assert.Equal("!", Tokens[0]);
        Assert.Equal("hello", Tokens[15339]);
        Assert.Equal("Ġworld", Tokens[1917]);
        Assert.Equal("Ġthe", Tokens[279]);
        Assert.Equal("ĠĠ", Tokens[256]);
        Assert.Equal("<|endoftext|>", Tokens[100257]);
        Assert.Equal("<|im_start|>", Tokens[100264]);
        Assert.Equal("<|im_end|>", Tokens[100265]);
        Assert.Equal((int)TokenType.Control, Types[100265]);
        Assert.Equal((int)TokenType.Unused, Types[100256]);
        Assert.Equal((int)TokenType.Normal, Types[15339]);
    }

    [Fact]
    public void Cl100k_EveryMultiByteToken_GetsExactlyOneMergeInRankOrder()
    {
        Assert.Equal(100256 - 256, Merges.Length);
        Assert.Equal("Ġ Ġ", Merges[0]);
        Assert.Equal("i n", Merges[2]);
        Assert.Equal("Ġ t", Merges[3]);
        // The merge listed for rank r rebuilds token r.
        foreach (int rank in new[] { 279, 1917, 15339, 100255 })
        {
            Assert.Equal(Tokens[rank], Merges[rank - 256].Replace(" ", "", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Cl100k_Metadata_SetsSpecialIdsPreTokenizerAndChatTemplate()
    {
        var meta = Cl100k.Value;
        Assert.Equal("gpt2", meta["tokenizer.ggml.model"].Value);
        Assert.Equal("llama-bpe", meta["tokenizer.ggml.pre"].Value);
        Assert.Equal(100257u, meta["tokenizer.ggml.bos_token_id"].Value);
        Assert.Equal(100257u, meta["tokenizer.ggml.eos_token_id"].Value);
        Assert.Equal(100265u, meta["tokenizer.ggml.eot_token_id"].Value);
        Assert.Contains("<|im_start|>", (string)meta["tokenizer.chat_template"].Value, StringComparison.Ordinal);
    }

    [Fact]
    public void ForByte_EachByte_MatchesGpt2ByteLevelUnicode()
    {
        Assert.Equal('Ġ', ByteLevelUnicode.ForByte((byte)' '));
        Assert.Equal('Ċ', ByteLevelUnicode.ForByte((byte)'\n'));
        Assert.Equal('A', ByteLevelUnicode.ForByte((byte)'A'));
        Assert.Equal('Ā', ByteLevelUnicode.ForByte(0));
        Assert.Equal('Ń', ByteLevelUnicode.ForByte(0xAD));
        Assert.Equal('ł', ByteLevelUnicode.ForByte(0xA0));
        Assert.Equal(256, ByteLevelUnicode.Table().Distinct().Count());
    }

    [Fact]
    public void PadTo_LargerSize_AddsUnusedFillers()
    {
        var padded = SynthVocabulary.Bytes().PadTo(300);
        var meta = padded.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value.Value);
        Assert.Equal(300, padded.Size);
        Assert.Equal("[PAD299]", ((string[])meta["tokenizer.ggml.tokens"])[299]);
        Assert.Equal((int)TokenType.Unused, ((int[])meta["tokenizer.ggml.token_type"])[299]);
    }

    [SkippableFact]
    public void FromGguf_VocabularyFile_ContributesAllItsTokenizerKeys()
    {
        var path = Conformance.Tokenizer("ggml-vocab-qwen2.gguf");
        var vocab = SynthVocabulary.FromGguf(path);
        using var file = GgufFile.Open(path);
        Assert.Equal(151936, vocab.Size);
        Assert.Equal(file.Metadata.Keys.Where(k => k.StartsWith("tokenizer.", StringComparison.Ordinal)).Order(), vocab.Metadata.Select(kv => kv.Key).Order());
        Assert.Equal("gpt2", vocab.Model);
    }
}
