using Sluice.Engine.Formats;
using Sluice.Engine.Formats.Gguf;

namespace Sluice.Engine.Models.Synthesis.Vocabulary;

/// <summary>
/// The tokenizer a synthetic model carries: all its <c>tokenizer.*</c> metadata and the number of tokens,
/// which the embedding and output matrices must match.
/// </summary>
public sealed class SynthVocabulary
{
    private const string TokensKey = "tokenizer.ggml.tokens";
    private const string TypesKey = "tokenizer.ggml.token_type";
    private const string ScoresKey = "tokenizer.ggml.scores";

    private SynthVocabulary(string description, IReadOnlyList<KeyValuePair<string, GgufValue>> metadata)
    {
        Description = description;
        Metadata = metadata;
        var tokens = metadata.FirstOrDefault(kv => kv.Key == TokensKey).Value?.Value as string[];
        Size = tokens?.Length ?? throw new ArgumentException($"vocabulary '{description}' has no {TokensKey} array");
    }

    /// <summary>Where the vocabulary came from, for messages.</summary>
    public string Description { get; }

    public int Size { get; }

    /// <summary>The <c>tokenizer.*</c> keys in the order they are written.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata { get; }

    public string? Model => Metadata.FirstOrDefault(kv => kv.Key == "tokenizer.ggml.model").Value?.Value as string;

    /// <summary>Copies every <c>tokenizer.*</c> key of a GGUF file (for example one of llama.cpp's vocab-only files).</summary>
    public static SynthVocabulary FromGguf(string path)
    {
        using var file = GgufFile.Open(path);
        var keys = file.Metadata.Where(kv => kv.Key.StartsWith("tokenizer.", StringComparison.Ordinal)).ToList();
        if (!keys.Exists(kv => kv.Key == TokensKey))
        {
            throw new ModelFormatException(path, $"no {TokensKey} array: not a vocabulary file");
        }
        return new SynthVocabulary(Path.GetFileName(path), keys);
    }

    /// <summary>OpenAI's cl100k_base as a GGUF byte-level BPE vocabulary (see <see cref="Cl100kVocabulary"/>).</summary>
    public static SynthVocabulary Cl100k() => new("cl100k_base", Cl100kVocabulary.Build(Cl100kTiktoken.LoadRanks()));

    /// <summary>
    /// A minimal byte-level BPE vocabulary: the 256 byte tokens, no merges, and the ChatML special tokens.
    /// It tokenizes any text (one token per byte) and keeps test models small.
    /// </summary>
    public static SynthVocabulary Bytes() => new("bytes", Cl100kVocabulary.Build([.. Enumerable.Range(0, 256).Select(b => new[] { (byte)b })], specialsAfterRanks: true));

    /// <summary>
    /// This vocabulary grown to <paramref name="size"/> tokens with unused "[PADn]" fillers, as converters
    /// do when a model's embedding has more rows than its tokenizer has tokens.
    /// </summary>
    public SynthVocabulary PadTo(int size)
    {
        if (size == Size)
        {
            return this;
        }
        if (size < Size)
        {
            throw new ArgumentException($"vocabulary size {size} is smaller than the {Size} tokens of {Description}");
        }
        var padded = new List<KeyValuePair<string, GgufValue>>(Metadata.Count);
        foreach (var (key, value) in Metadata)
        {
            Array? grown = key switch
            {
                TokensKey => Grow((string[])value.Value, size, i => $"[PAD{i}]"),
                TypesKey => Grow((int[])value.Value, size, _ => (int)TokenType.Unused),
                ScoresKey => Grow((float[])value.Value, size, _ => 0f),
                _ => null,
            };
            padded.Add(new(key, grown == null ? value : value with { Value = grown }));
        }
        return new SynthVocabulary($"{Description}, padded to {size}", padded);
    }

    private static T[] Grow<T>(T[] values, int size, Func<int, T> filler)
    {
        var grown = new T[size];
        values.CopyTo(grown, 0);
        for (int i = values.Length; i < size; i++)
        {
            grown[i] = filler(i);
        }
        return grown;
    }
}
