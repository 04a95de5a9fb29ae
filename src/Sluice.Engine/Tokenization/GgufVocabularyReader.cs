using Sluice.Engine.Formats;
using Sluice.Engine.Formats.Gguf;

namespace Sluice.Engine.Tokenization;

/// <summary>Reads <c>tokenizer.*</c> metadata with llama.cpp's defaults for whatever is absent.</summary>
internal static class GgufVocabularyReader
{
    private const string Prefix = "tokenizer.ggml.";

    public static VocabularyData Read(GgufFile file)
    {
        string model = file.GetString(Prefix + "model") ?? throw Problem(file, "missing tokenizer.ggml.model");
        var kind = model switch
        {
            "llama" => TokenizerKind.Spm,
            "gpt2" => TokenizerKind.Bpe,
            _ => throw Problem(file, $"tokenizer '{model}' is not supported (only 'llama' SPM and 'gpt2' byte-level BPE)"),
        };
        var texts = file.GetArray<string>(Prefix + "tokens") ?? throw Problem(file, "missing tokenizer.ggml.tokens");
        int n = texts.Length;
        var data = new VocabularyData
        {
            Kind = kind,
            PreTokenizerName = file.GetString(Prefix + "pre") ?? "",
            Texts = (string[])texts.Clone(),
            Scores = ReadScores(file, n),
            Attributes = ReadAttributes(file, n),
            Ids = new Dictionary<string, int>(n, StringComparer.Ordinal),
            ModelName = file.GetString("general.name"),
            ChatTemplate = file.GetString("tokenizer.chat_template"),
        };
        for (int i = 0; i < n; i++)
        {
            if (data.Texts[i].Length == 0)
            {
                data.Texts[i] = $"[EMPTY_{i}]"; // llama.cpp renames empty entries so every text stays unique
            }
            data.Ids[data.Texts[i]] = i;
        }

        if (kind == TokenizerKind.Spm)
        {
            data.Special.Bos = 1;
            data.Special.Eos = 2;
            data.Special.Unk = 0;
            data.AddSpacePrefix = true;
            data.AddBos = true;
        }
        else
        {
            data.Special.Bos = 11;
            data.Special.Eos = 11;
            data.Merges = file.GetArray<string>(Prefix + "merges") ?? throw Problem(file, "byte-level BPE vocabulary without tokenizer.ggml.merges");
            ApplyPreTokenizer(data);
        }
        data.AddSpacePrefix = file.GetBool(Prefix + "add_space_prefix") ?? data.AddSpacePrefix;
        ReadSpecialIds(file, data.Special, n);
        data.AddBos = file.GetBool(Prefix + "add_bos_token") ?? data.AddBos;
        data.AddEos = file.GetBool(Prefix + "add_eos_token") ?? data.AddEos;
        if (data.AddBos && data.Special.Bos < 0)
        {
            throw Problem(file, $"the tokenizer adds a BOS token but has none: no bos_token_id within its {n} tokens");
        }
        if (data.AddEos && data.Special.Eos < 0)
        {
            throw Problem(file, $"the tokenizer adds an EOS token but has none: no eos_token_id within its {n} tokens");
        }
        SpecialTokenRules.Apply(data);
        return data;
    }

    /// <summary>llama.cpp's per-pre-tokenizer settings; names it does not list fall back to GPT-2 rules.</summary>
    private static void ApplyPreTokenizer(VocabularyData data)
    {
        switch (data.PreTokenizerName)
        {
            case "llama3" or "llama-v3" or "llama-bpe" or "falcon3":
                data.PreTokenizer = PreTokenizerKind.Llama3;
                data.IgnoreMerges = true;
                data.AddBos = true;
                break;
            case "dbrx" or "smaug-bpe":
                data.PreTokenizer = PreTokenizerKind.Llama3;
                break;
            case "chatglm-bpe":
                data.PreTokenizer = PreTokenizerKind.Llama3;
                data.Special.Bos = -1;
                break;
            case "qwen2" or "stablelm2" or "megrez":
                data.PreTokenizer = PreTokenizerKind.Qwen2;
                break;
            default:
                data.PreTokenizer = PreTokenizerKind.Gpt2;
                break;
        }
    }

    private static readonly (string Key, Action<SpecialIds, int> Set)[] SpecialKeys =
    [
        ("bos_token_id", (s, v) => s.Bos = v),
        ("eos_token_id", (s, v) => s.Eos = v),
        ("eot_token_id", (s, v) => s.Eot = v),
        ("eom_token_id", (s, v) => s.Eom = v),
        ("unknown_token_id", (s, v) => s.Unk = v),
        ("seperator_token_id", (s, v) => s.Sep = v), // sic: the GGUF key is spelled this way
        ("padding_token_id", (s, v) => s.Pad = v),
        ("mask_token_id", (s, v) => s.Mask = v),
        ("fim_pre_token_id", (s, v) => s.FimPre = v),
        ("fim_suf_token_id", (s, v) => s.FimSuf = v),
        ("fim_mid_token_id", (s, v) => s.FimMid = v),
        ("fim_pad_token_id", (s, v) => s.FimPad = v),
        ("fim_rep_token_id", (s, v) => s.FimRep = v),
        ("fim_sep_token_id", (s, v) => s.FimSep = v),
        ("prefix_token_id", (s, v) => s.FimPre = v),
        ("suffix_token_id", (s, v) => s.FimSuf = v),
        ("middle_token_id", (s, v) => s.FimMid = v),
    ];

    private static void ReadSpecialIds(GgufFile file, SpecialIds special, int n)
    {
        foreach (var (key, set) in SpecialKeys)
        {
            long? v = file.GetInt(Prefix + key);
            if (v is >= 0 && v < n)
            {
                set(special, (int)v.Value); // out-of-range ids keep the default, as llama.cpp does
            }
        }
        // a default outside a small vocabulary (BPE's 11 in a 5-token one) is no token at all
        int None(int id) => id < n ? id : -1;
        special.Bos = None(special.Bos);
        special.Eos = None(special.Eos);
        special.Unk = None(special.Unk);
    }

    private static float[] ReadScores(GgufFile file, int n)
    {
        var scores = file.GetArray<float>(Prefix + "scores");
        if (scores == null)
        {
            return new float[n];
        }
        if (scores.Length < n)
        {
            throw Problem(file, $"tokenizer.ggml.scores has {scores.Length} entries for {n} tokens");
        }
        return scores;
    }

    private static TokenAttributes[] ReadAttributes(GgufFile file, int n)
    {
        var attributes = new TokenAttributes[n];
        if (!file.Metadata.TryGetValue(Prefix + "token_type", out var value) || value.Value is not Array types)
        {
            Array.Fill(attributes, TokenAttributes.Normal);
            return attributes;
        }
        if (types.Length < n)
        {
            throw Problem(file, $"tokenizer.ggml.token_type has {types.Length} entries for {n} tokens");
        }
        for (int i = 0; i < n; i++)
        {
            long type = types is int[] ints ? ints[i] : Convert.ToInt64(types.GetValue(i), System.Globalization.CultureInfo.InvariantCulture);
            attributes[i] = type switch
            {
                (long)TokenType.Normal => TokenAttributes.Normal,
                (long)TokenType.Unknown => TokenAttributes.Unknown,
                (long)TokenType.Control => TokenAttributes.Control,
                (long)TokenType.UserDefined => TokenAttributes.UserDefined,
                (long)TokenType.Unused => TokenAttributes.Unused,
                (long)TokenType.Byte => TokenAttributes.Byte,
                _ => TokenAttributes.Undefined,
            };
        }
        return attributes;
    }

    private static ModelFormatException Problem(GgufFile file, string problem) => new(file.FilePath, problem);
}
