using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Tests.Support;

/// <summary>The conformance vocabularies, each loaded once for the whole test run.</summary>
internal static class TestTokenizers
{
    public const string LlamaSpm = "ggml-vocab-llama-spm.gguf";
    public const string Qwen2 = "ggml-vocab-qwen2.gguf";
    public const string LlamaBpe = "ggml-vocab-llama-bpe.gguf";

    private static readonly Dictionary<string, Lazy<Tokenizer>> Loaded = new()
    {
        [LlamaSpm] = new(() => Load(Conformance.Tokenizer(LlamaSpm))),
        [Qwen2] = new(() => Load(Conformance.Tokenizer(Qwen2))),
        [LlamaBpe] = new(() => Load(Conformance.Tokenizer(LlamaBpe))),
    };

    /// <summary>One of the vocab files above (skips the test when the conformance data is absent).</summary>
    public static Tokenizer Vocab(string file)
    {
        _ = Conformance.Dir;
        return Loaded[file].Value;
    }

    public static Tokenizer Load(string path)
    {
        using var file = GgufFile.Open(path);
        return Tokenizer.FromGguf(file);
    }

    /// <summary>llama.cpp's test strings and expected ids for a vocab file (add_special=false, parse_special=false).</summary>
    public static IReadOnlyList<(string Text, int[] Ids)> TestCases(string file)
    {
        string inp = File.ReadAllText(Conformance.Tokenizer(file + ".inp"));
        var texts = inp.Split("\n__ggml_vocab_test__\n");
        var lines = File.ReadAllLines(Conformance.Tokenizer(file + ".out"));
        var cases = new List<(string, int[])>();
        for (int i = 0; i < texts.Length - 1; i++) // the last separator ends the file, leaving an empty tail
        {
            var ids = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            cases.Add((texts[i], ids));
        }
        return cases;
    }
}
