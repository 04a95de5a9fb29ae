using System.Text.Json;
using Sluice.Engine.Formats;
using Sluice.Engine.Models.HuggingFace;

namespace Sluice.Engine.Tokenization;

/// <summary>
/// What a tokenizer.json's normalizer, pre-tokenizer and post-processor amount to in llama.cpp's terms:
/// byte-level BPE with one of the regex families it knows (GPT-2, Llama 3, Qwen 2), or SentencePiece-style
/// BPE (spaces escaped as '▁', optionally one prepended). Pipelines outside these families are refused
/// rather than tokenized differently. NFC normalization (Qwen 2) is not applied, as llama.cpp does not.
/// </summary>
internal sealed record HfTokenizerPipeline
{
    public const string Gpt2Regex = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    public const string Llama3Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string Qwen2Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public const char SpaceEscape = '\u2581';

    public required TokenizerKind Kind { get; init; }
    public PreTokenizerKind PreTokenizer { get; init; } = PreTokenizerKind.Gpt2;

    /// <summary>SPM: a '▁' goes before the text (Prepend normalizer, or Metaspace with prepend_scheme first/always).</summary>
    public bool AddSpacePrefix { get; init; }

    /// <summary>The text of the special token the post-processor template puts first/last, if any.</summary>
    public string? TemplateBos { get; init; }
    public string? TemplateEos { get; init; }

    /// <summary>True/false when a post-processor template decides it; null when none does.</summary>
    public bool? TemplateAddsBos { get; init; }
    public bool? TemplateAddsEos { get; init; }

    public static HfTokenizerPipeline Analyze(JsonFields root)
    {
        bool escapesSpaces = false, prependsSpace = false, byteLevel = false, byteLevelRegex = false;
        string? splitRegex = null;
        foreach (var n in Flatten(root, "normalizer", "normalizers"))
        {
            switch (Type(root, n))
            {
                case "Prepend" when Str(n, "prepend") == SpaceEscape.ToString():
                    prependsSpace = true;
                    break;
                case "Replace" when Pattern(n) == " " && Str(n, "content") == SpaceEscape.ToString():
                    escapesSpaces = true;
                    break;
                case "NFC":
                    break;
                case var other:
                    throw Unsupported(root, $"normalizer {other} ({n.GetRawText()})");
            }
        }
        foreach (var p in Flatten(root, "pre_tokenizer", "pretokenizers"))
        {
            switch (Type(root, p))
            {
                case "ByteLevel":
                    if (Bool(p, "add_prefix_space") == true)
                    {
                        throw Unsupported(root, "ByteLevel pre-tokenizer with add_prefix_space true");
                    }
                    byteLevel = true;
                    byteLevelRegex = Bool(p, "use_regex") ?? true;
                    break;
                case "Split" when splitRegex == null && Str(p, "behavior") == "Isolated" && Bool(p, "invert") != true && Pattern(p) is { } regex:
                    splitRegex = regex;
                    break;
                case "Metaspace" when Str(p, "replacement") is null or "\u2581":
                    escapesSpaces = true;
                    prependsSpace = (Str(p, "prepend_scheme") ?? ((Bool(p, "add_prefix_space") ?? true) ? "always" : "never")) != "never";
                    break;
                case var other:
                    throw Unsupported(root, $"pre-tokenizer {other} ({Shorten(p.GetRawText())})");
            }
        }
        var (bos, eos) = TemplateSpecials(root);
        var pipeline = new HfTokenizerPipeline
        {
            Kind = TokenizerKind.Spm,
            TemplateBos = bos,
            TemplateEos = eos,
            TemplateAddsBos = bos != null ? true : HasTemplate(root) ? false : null,
            TemplateAddsEos = eos != null ? true : HasTemplate(root) ? false : null,
        };
        if (byteLevel)
        {
            string regex = splitRegex ?? (byteLevelRegex ? Gpt2Regex : throw Unsupported(root, "byte-level BPE without a splitting regex"));
            var kind = regex switch
            {
                Gpt2Regex => PreTokenizerKind.Gpt2,
                Llama3Regex => PreTokenizerKind.Llama3,
                Qwen2Regex => PreTokenizerKind.Qwen2,
                _ => throw Unsupported(root, $"pre-tokenizer regex {regex} (known: the GPT-2, Llama 3 and Qwen 2 ones)"),
            };
            return pipeline with { Kind = TokenizerKind.Bpe, PreTokenizer = kind };
        }
        if (escapesSpaces && splitRegex == null)
        {
            return pipeline with { AddSpacePrefix = prependsSpace };
        }
        throw Unsupported(root, "tokenizer family: neither byte-level nor SentencePiece-style ('▁') pre-tokenization");
    }

    /// <summary>The items of a component that may be a Sequence of them (or null).</summary>
    private static IEnumerable<JsonElement> Flatten(JsonFields root, string field, string sequenceField)
    {
        if (!root.TryGet(field, out var e))
        {
            return [];
        }
        var items = new List<JsonElement>();
        void Add(JsonElement x)
        {
            if (x.ValueKind == JsonValueKind.Object && x.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "Sequence"
                && x.TryGetProperty(sequenceField, out var inner) && inner.ValueKind == JsonValueKind.Array)
            {
                foreach (var i in inner.EnumerateArray())
                {
                    Add(i);
                }
            }
            else if (x.ValueKind != JsonValueKind.Null)
            {
                items.Add(x);
            }
        }
        Add(e);
        return items;
    }

    private static bool HasTemplate(JsonFields root) =>
        Flatten(root, "post_processor", "processors").Any(p => p.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "TemplateProcessing");

    /// <summary>The special tokens a TemplateProcessing "single" template puts before and after the text.</summary>
    private static (string? Bos, string? Eos) TemplateSpecials(JsonFields root)
    {
        foreach (var p in Flatten(root, "post_processor", "processors"))
        {
            if (Str(p, "type") != "TemplateProcessing" || !p.TryGetProperty("single", out var single) || single.ValueKind != JsonValueKind.Array)
            {
                continue;
            }
            var items = single.EnumerateArray().ToList();
            static string? Special(JsonElement item) =>
                item.ValueKind == JsonValueKind.Object && item.TryGetProperty("SpecialToken", out var s) && s.ValueKind == JsonValueKind.Object
                    ? Str(s, "id") : null;
            return items.Count == 0 ? (null, null) : (Special(items[0]), items.Count > 1 ? Special(items[^1]) : null);
        }
        return (null, null);
    }

    private static string Type(JsonFields root, JsonElement e) =>
        Str(e, "type") ?? throw new ModelFormatException(root.Path, $"component without a 'type': {Shorten(e.GetRawText())}");

    private static string? Pattern(JsonElement e)
    {
        if (!e.TryGetProperty("pattern", out var p) || p.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        return Str(p, "Regex") ?? Str(p, "String");
    }

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool? Bool(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    private static string Shorten(string s) => s.Length <= 200 ? s : s[..200] + "...";

    private static ModelFormatException Unsupported(JsonFields root, string what) => new(root.Path, $"unsupported {what}");
}
