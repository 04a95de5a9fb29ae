using System.Text.Json;
using System.Text.RegularExpressions;
using Sluice.Engine.Formats;
using Sluice.Engine.Models.HuggingFace;

namespace Sluice.Engine.Tokenization;

/// <summary>
/// Builds the same <see cref="VocabularyData"/> that <see cref="GgufVocabularyReader"/> reads from a GGUF
/// converted by llama.cpp, from a Hugging Face <c>tokenizer.json</c> (BPE model: vocab, merges as "a b"
/// strings or [a, b] pairs, ignore_merges, added_tokens) plus <c>tokenizer_config.json</c>. Token types
/// follow llama.cpp's converter: added tokens are control when marked special or spelled like one
/// (&lt;|...|&gt;), user-defined otherwise; SentencePiece-style vocabularies keep &lt;0xNN&gt; byte tokens and
/// the unknown token; ids no tokenizer entry covers become unused "[PADn]" tokens.
/// </summary>
internal static partial class HfTokenizerJsonReader
{
    public const string FileName = "tokenizer.json";

    public static VocabularyData Read(string folder, HfTokenizerOptions options)
    {
        string path = Path.Combine(folder, FileName);
        using var doc = JsonFields.ParseFile(path);
        var root = new JsonFields(path, doc.RootElement);
        var config = HfTokenizerConfig.Read(folder);
        var model = root.OptionalObject("model") ?? throw new ModelFormatException(path, "missing field 'model'");
        string type = model.OptionalString("type") ?? "BPE";
        if (type != "BPE")
        {
            throw new ModelFormatException(path, $"tokenizer model '{type}' is not supported (only BPE)");
        }
        var pipeline = HfTokenizerPipeline.Analyze(root);
        var (texts, types) = ReadTokens(root, model, pipeline, options.VocabSize);
        string[] merges = ReadMerges(model);
        var data = new VocabularyData
        {
            Kind = pipeline.Kind,
            PreTokenizerName = PreTokenizerName(pipeline, model),
            PreTokenizer = pipeline.PreTokenizer,
            Texts = texts,
            Scores = pipeline.Kind == TokenizerKind.Spm ? SpmScores(texts, types, merges) : new float[texts.Length],
            Attributes = [.. types.Select(ToAttributes)],
            Ids = new Dictionary<string, int>(texts.Length, StringComparer.Ordinal),
            Merges = pipeline.Kind == TokenizerKind.Bpe ? merges : [],
            AddSpacePrefix = pipeline.AddSpacePrefix,
            IgnoreMerges = model.OptionalBool("ignore_merges") ?? false,
            ModelName = options.ModelName,
            ChatTemplate = config.DefaultChatTemplate,
        };
        for (int i = 0; i < texts.Length; i++)
        {
            data.Ids[texts[i]] = i;
        }
        ResolveSpecials(data, model, config, pipeline, options);
        SpecialTokenRules.Apply(data);
        AddEndOfGeneration(data, options.ExtraEndOfGenerationIds);
        return data;
    }

    private static (string[] Texts, TokenType[] Types) ReadTokens(JsonFields root, JsonFields model, HfTokenizerPipeline pipeline, int? vocabSize)
    {
        var entries = new List<(int Id, string Text, TokenType Type)>();
        if (!model.TryGet("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
        {
            throw new ModelFormatException(root.Path, "missing field 'model.vocab'");
        }
        string? unk = model.OptionalString("unk_token");
        foreach (var kv in vocab.EnumerateObject())
        {
            var t = pipeline.Kind == TokenizerKind.Spm && ByteToken().IsMatch(kv.Name) ? TokenType.Byte
                : pipeline.Kind == TokenizerKind.Spm && kv.Name == unk ? TokenType.Unknown
                : TokenType.Normal;
            entries.Add((Id(root, kv.Value, kv.Name), kv.Name, t));
        }
        if (root.TryGet("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
        {
            foreach (var a in added.EnumerateArray())
            {
                var f = new JsonFields(root.Path, a);
                string content = f.OptionalString("content") ?? throw new ModelFormatException(root.Path, $"added token without 'content': {a.GetRawText()}");
                int id = a.TryGetProperty("id", out var idElement) ? Id(root, idElement, content) : throw new ModelFormatException(root.Path, $"added token '{content}' without 'id'");
                entries.Add((id, content, AddedTokenType(content, f.OptionalBool("special") ?? false, pipeline, unk)));
            }
        }
        int count = entries.Count == 0 ? 0 : entries.Max(e => e.Id) + 1;
        if (vocabSize is { } size)
        {
            if (count > size)
            {
                throw new ModelFormatException(root.Path, $"tokenizer has ids up to {count - 1}, beyond the model's vocab_size {size}");
            }
            count = size;
        }
        var texts = new string[count];
        var types = new TokenType[count];
        foreach (var (id, text, t) in entries)
        {
            // An added token overrides a vocab entry with the same id (Llama 2 lists <unk>, <s>, </s> in both).
            texts[id] = t == TokenType.UserDefined && pipeline.Kind == TokenizerKind.Spm ? text.Replace(HfTokenizerPipeline.SpaceEscape, ' ') : text;
            types[id] = t;
        }
        for (int i = 0; i < count; i++)
        {
            if (texts[i] == null)
            {
                texts[i] = $"[PAD{i}]";
                types[i] = TokenType.Unused;
            }
            else if (texts[i].Length == 0)
            {
                texts[i] = $"[EMPTY_{i}]"; // as llama.cpp renames empty entries so every text stays unique
            }
        }
        return (texts, types);
    }

    private static TokenType AddedTokenType(string content, bool special, HfTokenizerPipeline pipeline, string? unk)
    {
        if (pipeline.Kind == TokenizerKind.Spm && content == unk)
        {
            return TokenType.Unknown;
        }
        return special || LooksSpecial(content) ? TokenType.Control : TokenType.UserDefined;
    }

    /// <summary>llama.cpp's converter treats these spellings as control tokens even when not marked special.</summary>
    private static bool LooksSpecial(string text) =>
        text is "<pad>" or "<mask>" or "<2mass>" or "[@BOS@]"
        || (text.StartsWith("<|", StringComparison.Ordinal) && text.EndsWith("|>", StringComparison.Ordinal))
        || (text.StartsWith("<｜", StringComparison.Ordinal) && text.EndsWith("｜>", StringComparison.Ordinal))
        || (text.StartsWith("<unused", StringComparison.Ordinal) && text.EndsWith('>'));

    private static int Id(JsonFields root, JsonElement value, string text) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int id) && id >= 0 && id < 10_000_000
            ? id
            : throw new ModelFormatException(root.Path, $"token '{text}' has id {value.GetRawText()}, not a token id");

    /// <summary>Merges as "left right" lines, whichever of the two spellings the file uses.</summary>
    private static string[] ReadMerges(JsonFields model)
    {
        if (!model.TryGet("merges", out var merges))
        {
            return [];
        }
        if (merges.ValueKind != JsonValueKind.Array)
        {
            throw new ModelFormatException(model.Path, "field 'model.merges' must be a list");
        }
        var lines = new string[merges.GetArrayLength()];
        int i = 0;
        foreach (var m in merges.EnumerateArray())
        {
            lines[i++] = m.ValueKind switch
            {
                JsonValueKind.String => m.GetString()!,
                JsonValueKind.Array when m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String
                    => m[0].GetString() + " " + m[1].GetString(),
                _ => throw new ModelFormatException(model.Path, $"merge {m.GetRawText()} is neither \"a b\" nor [\"a\", \"b\"]"),
            };
        }
        return lines;
    }

    /// <summary>
    /// SentencePiece scores are gone from tokenizer.json, but its merges were listed in score order
    /// (best first), so the rank of the first merge producing a token orders tokens as their scores did.
    /// Specials, bytes and single characters keep 0 (llama.cpp only scores merge results); a longer token
    /// no merge produces, which Hugging Face can never emit, ranks below every merge.
    /// </summary>
    private static float[] SpmScores(string[] texts, TokenType[] types, string[] merges)
    {
        var scores = new float[texts.Length];
        var ids = new Dictionary<string, int>(texts.Length, StringComparer.Ordinal);
        for (int i = 0; i < texts.Length; i++)
        {
            ids[texts[i]] = i;
        }
        var seen = new bool[texts.Length];
        for (int rank = 0; rank < merges.Length; rank++)
        {
            string line = merges[rank];
            int space = line.IndexOf(' ', 1);
            if (space < 0 || !ids.TryGetValue(string.Concat(line.AsSpan(0, space), line.AsSpan(space + 1)), out int id) || seen[id] || types[id] != TokenType.Normal)
            {
                continue;
            }
            seen[id] = true;
            scores[id] = -1 - rank;
        }
        for (int i = 0; i < texts.Length; i++)
        {
            if (!seen[i] && types[i] == TokenType.Normal && texts[i].EnumerateRunes().Skip(1).Any())
            {
                scores[i] = -1 - merges.Length;
            }
        }
        return scores;
    }

    private static void ResolveSpecials(VocabularyData data, JsonFields model, HfTokenizerConfig config, HfTokenizerPipeline pipeline, HfTokenizerOptions options)
    {
        int IdOf(string? text) => text != null && data.Ids.TryGetValue(text, out int id) ? id : -1;
        int InRange(int? id) => id is int i && i >= 0 && i < data.Texts.Length ? i : -1;
        bool spm = pipeline.Kind == TokenizerKind.Spm;
        var s = data.Special;
        s.Bos = First(IdOf(config.BosToken), IdOf(pipeline.TemplateBos), InRange(options.FallbackBosId), spm ? IdOf("<s>") : -1);
        s.Eos = First(IdOf(config.EosToken), IdOf(pipeline.TemplateEos), InRange(options.FallbackEosIds.Count > 0 ? options.FallbackEosIds[0] : null), spm ? IdOf("</s>") : -1);
        s.Unk = First(IdOf(model.OptionalString("unk_token")), IdOf(config.UnkToken));
        s.Pad = IdOf(config.PadToken);
        // llama.cpp's defaults: SentencePiece and Llama-3-style vocabularies add BOS, others do not.
        bool defaultBos = spm || (pipeline.PreTokenizer == PreTokenizerKind.Llama3 && data.IgnoreMerges);
        data.AddBos = config.AddBosToken ?? pipeline.TemplateAddsBos ?? defaultBos;
        data.AddEos = config.AddEosToken ?? pipeline.TemplateAddsEos ?? false;
    }

    private static int First(params int[] ids) => ids.FirstOrDefault(id => id >= 0, -1);

    private static void AddEndOfGeneration(VocabularyData data, IReadOnlyList<int> extra)
    {
        var ids = new SortedSet<int>(data.EndOfGeneration);
        foreach (int id in extra)
        {
            if (id >= 0 && id < data.Texts.Length)
            {
                ids.Add(id);
            }
        }
        data.EndOfGeneration = [.. ids];
    }

    /// <summary>A name for the regex family, as llama.cpp's tokenizer.ggml.pre would have it.</summary>
    private static string PreTokenizerName(HfTokenizerPipeline pipeline, JsonFields model) => pipeline.Kind == TokenizerKind.Spm ? "default" : pipeline.PreTokenizer switch
    {
        PreTokenizerKind.Llama3 => model.OptionalBool("ignore_merges") == true ? "llama-bpe" : "smaug-bpe",
        PreTokenizerKind.Qwen2 => "qwen2",
        _ => "gpt2",
    };

    private static TokenAttributes ToAttributes(TokenType type) => type switch
    {
        TokenType.Normal => TokenAttributes.Normal,
        TokenType.Unknown => TokenAttributes.Unknown,
        TokenType.Control => TokenAttributes.Control,
        TokenType.UserDefined => TokenAttributes.UserDefined,
        TokenType.Unused => TokenAttributes.Unused,
        TokenType.Byte => TokenAttributes.Byte,
        _ => TokenAttributes.Undefined,
    };

    [GeneratedRegex("^<0x[0-9A-Fa-f]{2}>$")]
    private static partial Regex ByteToken();
}
