using System.Text;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Tokenization;

/// <summary>llama.cpp's own tokenizer test strings (test-tokenizer-0), exact ids required.</summary>
public sealed class VocabConformanceTests
{
    [SkippableFact]
    public void Encode_LlamaSpmVocab_MatchesLlamaCppOnEveryTestString() => AssertAllMatch(TestTokenizers.LlamaSpm);

    [SkippableFact]
    public void Encode_Qwen2Vocab_MatchesLlamaCppOnEveryTestString() => AssertAllMatch(TestTokenizers.Qwen2);

    [SkippableFact]
    public void Encode_LlamaBpeVocab_MatchesLlamaCppOnEveryTestString() => AssertAllMatch(TestTokenizers.LlamaBpe);

    private static void AssertAllMatch(string file)
    {
        var tokenizer = TestTokenizers.Vocab(file);
        var cases = TestTokenizers.TestCases(file);
        Assert.True(cases.Count >= 40, $"only {cases.Count} test strings found");
        var failures = new StringBuilder();
        foreach (var (text, expected) in cases)
        {
            var actual = tokenizer.Encode(text, addSpecial: false, parseSpecial: false);
            if (!actual.SequenceEqual(expected))
            {
                failures.AppendLine($"{Escape(text)}\n  expected {string.Join(' ', expected)}\n  actual   {string.Join(' ', actual)}");
            }
        }
        Assert.True(failures.Length == 0, $"{file}: mismatches\n{failures}");
    }

    internal static string Escape(string s) =>
        "\"" + s.Replace("\\", "\\\\").Replace("\n", "\\n").Replace("\r", "\\r").Replace("\t", "\\t") + "\"";
}
