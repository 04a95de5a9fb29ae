using System.Globalization;
using System.Text.Json;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Models.HuggingFace.Conversion;

/// <summary>
/// Writes a GGUF file's vocabulary as <c>tokenizer.json</c> and <c>tokenizer_config.json</c>, laid out as
/// Hugging Face's own files for these families are: byte-level BPE with the pre-tokenizer regex of its
/// family (added tokens apart from the vocab), or SentencePiece-style BPE with byte fallback (every token
/// in the vocab, merges derived from the scores, best first). Reading the result back gives the same
/// tokenization as the GGUF.
/// </summary>
public static class HfTokenizerJsonWriter
{
    private const string SpaceEscape = "\u2581";

    public static void Write(GgufFile gguf, string folder, int? contextLength = null)
    {
        var vocab = Vocabulary.FromGguf(gguf);
        var texts = gguf.GetArray<string>("tokenizer.ggml.tokens")!;
        var types = RawTypes(gguf, texts.Length);
        bool spm = vocab.Kind == TokenizerKind.Spm;
        var merges = spm ? SpmMerges(texts, types, gguf.GetArray<float>("tokenizer.ggml.scores") ?? new float[texts.Length]) : BpeMerges(vocab.Merges);
        JsonOutput.Write(Path.Combine(folder, HfTokenizerJsonReader.FileName), json =>
        {
            json.WriteStartObject();
            json.WriteString("version", "1.0");
            json.WriteNull("truncation");
            json.WriteNull("padding");
            WriteAddedTokens(json, texts, types);
            if (spm)
            {
                WriteSpmPipeline(json, vocab);
            }
            else
            {
                WriteByteLevelPipeline(json, vocab);
            }
            WriteModel(json, vocab, texts, types, merges, spm);
            json.WriteEndObject();
        }, indented: false);
        WriteConfig(vocab, folder, contextLength);
    }

    /// <summary>The GGUF's own token types, before llama.cpp's text-based fixups (which the reader reapplies).</summary>
    private static TokenType[] RawTypes(GgufFile gguf, int n)
    {
        var types = new TokenType[n];
        Array.Fill(types, TokenType.Normal);
        if (gguf.Metadata.TryGetValue("tokenizer.ggml.token_type", out var v) && v.Value is Array a)
        {
            for (int i = 0; i < n && i < a.Length; i++)
            {
                types[i] = (TokenType)Convert.ToInt32(a.GetValue(i), CultureInfo.InvariantCulture);
            }
        }
        return types;
    }

    private static bool IsAdded(TokenType t) => t is TokenType.Control or TokenType.UserDefined or TokenType.Unknown;

    private static void WriteAddedTokens(Utf8JsonWriter json, string[] texts, TokenType[] types)
    {
        json.WriteStartArray("added_tokens");
        for (int id = 0; id < texts.Length; id++)
        {
            if (!IsAdded(types[id]))
            {
                continue;
            }
            json.WriteStartObject();
            json.WriteNumber("id", id);
            json.WriteString("content", texts[id]);
            json.WriteBoolean("single_word", false);
            json.WriteBoolean("lstrip", false);
            json.WriteBoolean("rstrip", false);
            json.WriteBoolean("normalized", false);
            json.WriteBoolean("special", types[id] != TokenType.UserDefined);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static void WriteByteLevelPipeline(Utf8JsonWriter json, Vocabulary vocab)
    {
        json.WriteNull("normalizer");
        json.WriteStartObject("pre_tokenizer");
        if (vocab.PreTokenizer == PreTokenizerKind.Gpt2)
        {
            WriteByteLevel(json, useRegex: true);
        }
        else
        {
            json.WriteString("type", "Sequence");
            json.WriteStartArray("pretokenizers");
            json.WriteStartObject();
            json.WriteString("type", "Split");
            json.WriteStartObject("pattern");
            json.WriteString("Regex", vocab.PreTokenizer == PreTokenizerKind.Llama3 ? HfTokenizerPipeline.Llama3Regex : HfTokenizerPipeline.Qwen2Regex);
            json.WriteEndObject();
            json.WriteString("behavior", "Isolated");
            json.WriteBoolean("invert", false);
            json.WriteEndObject();
            json.WriteStartObject();
            WriteByteLevel(json, useRegex: false);
            json.WriteEndObject();
            json.WriteEndArray();
        }
        json.WriteEndObject();
        WritePostProcessor(json, vocab, () => WriteByteLevel(json, useRegex: false));
        json.WriteStartObject("decoder");
        WriteByteLevel(json, useRegex: true);
        json.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter json, bool useRegex)
    {
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", false);
        json.WriteBoolean("trim_offsets", false);
        json.WriteBoolean("use_regex", useRegex);
    }

    private static void WriteSpmPipeline(Utf8JsonWriter json, Vocabulary vocab)
    {
        json.WriteStartObject("normalizer");
        json.WriteString("type", "Sequence");
        json.WriteStartArray("normalizers");
        if (vocab.AddSpacePrefix)
        {
            json.WriteStartObject();
            json.WriteString("type", "Prepend");
            json.WriteString("prepend", SpaceEscape);
            json.WriteEndObject();
        }
        WriteReplace(json, " ", SpaceEscape);
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteNull("pre_tokenizer");
        WritePostProcessor(json, vocab, null);
        json.WriteStartObject("decoder");
        json.WriteString("type", "Sequence");
        json.WriteStartArray("decoders");
        WriteReplace(json, SpaceEscape, " ");
        json.WriteStartObject();
        json.WriteString("type", "ByteFallback");
        json.WriteEndObject();
        json.WriteStartObject();
        json.WriteString("type", "Fuse");
        json.WriteEndObject();
        if (vocab.AddSpacePrefix)
        {
            json.WriteStartObject();
            json.WriteString("type", "Strip");
            json.WriteString("content", " ");
            json.WriteNumber("start", 1);
            json.WriteNumber("stop", 0);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteReplace(Utf8JsonWriter json, string from, string to)
    {
        json.WriteStartObject();
        json.WriteString("type", "Replace");
        json.WriteStartObject("pattern");
        json.WriteString("String", from);
        json.WriteEndObject();
        json.WriteString("content", to);
        json.WriteEndObject();
    }

    /// <summary>A template adding BOS/EOS when the vocabulary adds them; otherwise <paramref name="plain"/> (or null).</summary>
    private static void WritePostProcessor(Utf8JsonWriter json, Vocabulary vocab, Action? plain)
    {
        bool bos = vocab.AddBos && vocab.BosId >= 0;
        bool eos = vocab.AddEos && vocab.EosId >= 0;
        if (!bos && !eos)
        {
            if (plain == null)
            {
                json.WriteNull("post_processor");
                return;
            }
            json.WriteStartObject("post_processor");
            plain();
            json.WriteEndObject();
            return;
        }
        json.WriteStartObject("post_processor");
        json.WriteString("type", "TemplateProcessing");
        foreach (var (name, sequences) in new[] { ("single", new[] { "A" }), ("pair", new[] { "A", "B" }) })
        {
            json.WriteStartArray(name);
            foreach (var seq in sequences)
            {
                if (bos)
                {
                    WriteTemplateItem(json, "SpecialToken", vocab.Text(vocab.BosId), seq == "A" ? 0 : 1);
                }
                WriteTemplateItem(json, "Sequence", seq, seq == "A" ? 0 : 1);
                if (eos)
                {
                    WriteTemplateItem(json, "SpecialToken", vocab.Text(vocab.EosId), seq == "A" ? 0 : 1);
                }
            }
            json.WriteEndArray();
        }
        json.WriteStartObject("special_tokens");
        foreach (int id in new[] { bos ? vocab.BosId : -1, eos ? vocab.EosId : -1 }.Where(i => i >= 0).Distinct())
        {
            json.WriteStartObject(vocab.Text(id));
            json.WriteString("id", vocab.Text(id));
            json.WriteStartArray("ids");
            json.WriteNumberValue(id);
            json.WriteEndArray();
            json.WriteStartArray("tokens");
            json.WriteStringValue(vocab.Text(id));
            json.WriteEndArray();
            json.WriteEndObject();
        }
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteTemplateItem(Utf8JsonWriter json, string kind, string id, int typeId)
    {
        json.WriteStartObject();
        json.WriteStartObject(kind);
        json.WriteString("id", id);
        json.WriteNumber("type_id", typeId);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteModel(Utf8JsonWriter json, Vocabulary vocab, string[] texts, TokenType[] types, List<(string, string)> merges, bool spm)
    {
        json.WriteStartObject("model");
        json.WriteString("type", "BPE");
        json.WriteNull("dropout");
        if (spm && vocab.UnknownId >= 0)
        {
            json.WriteString("unk_token", texts[vocab.UnknownId]);
        }
        else
        {
            json.WriteNull("unk_token");
        }
        json.WriteNull("continuing_subword_prefix");
        json.WriteNull("end_of_word_suffix");
        json.WriteBoolean("fuse_unk", spm);
        json.WriteBoolean("byte_fallback", spm);
        json.WriteBoolean("ignore_merges", vocab.IgnoreMerges);
        json.WriteStartObject("vocab");
        for (int id = 0; id < texts.Length; id++)
        {
            // SentencePiece vocabularies list every token; byte-level ones keep added tokens apart. Unused
            // fillers are left out: the reader recreates them from the model's vocab_size.
            if (types[id] != TokenType.Unused && (spm || !IsAdded(types[id])))
            {
                json.WriteNumber(texts[id], id);
            }
        }
        json.WriteEndObject();
        json.WriteStartArray("merges");
        foreach (var (left, right) in merges)
        {
            json.WriteStartArray();
            json.WriteStringValue(left);
            json.WriteStringValue(right);
            json.WriteEndArray();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static List<(string, string)> BpeMerges(string[] lines)
    {
        var merges = new List<(string, string)>(lines.Length);
        foreach (var line in lines)
        {
            int space = line.IndexOf(' ', 1);
            if (space > 0)
            {
                merges.Add((line[..space], line[(space + 1)..]));
            }
        }
        return merges;
    }

    /// <summary>
    /// SentencePiece BPE merges as Hugging Face's converter derives them: every split of a normal token
    /// into two normal tokens, ordered by the merged token's score (best first, then by id).
    /// </summary>
    private static List<(string, string)> SpmMerges(string[] texts, TokenType[] types, float[] scores)
    {
        var normal = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < texts.Length; i++)
        {
            if (types[i] == TokenType.Normal)
            {
                normal.Add(texts[i]);
            }
        }
        var order = Enumerable.Range(0, texts.Length).Where(i => types[i] == TokenType.Normal)
            .OrderByDescending(i => scores[i]).ThenBy(i => i);
        var merges = new List<(string, string)>();
        foreach (int id in order)
        {
            string t = texts[id];
            for (int k = 1; k < t.Length; k++)
            {
                if (char.IsLowSurrogate(t[k]))
                {
                    continue;
                }
                string left = t[..k], right = t[k..];
                if (normal.Contains(left) && normal.Contains(right))
                {
                    merges.Add((left, right));
                }
            }
        }
        return merges;
    }

    private static void WriteConfig(Vocabulary vocab, string folder, int? contextLength)
    {
        JsonOutput.Write(Path.Combine(folder, HfTokenizerConfig.FileName), json =>
        {
            json.WriteStartObject();
            json.WriteBoolean("add_bos_token", vocab.AddBos);
            json.WriteBoolean("add_eos_token", vocab.AddEos);
            WriteTokenOrNull(json, "bos_token", vocab, vocab.BosId);
            WriteTokenOrNull(json, "eos_token", vocab, vocab.EosId);
            WriteTokenOrNull(json, "unk_token", vocab, vocab.UnknownId);
            WriteTokenOrNull(json, "pad_token", vocab, vocab.PaddingId);
            if (vocab.ChatTemplate != null)
            {
                json.WriteString("chat_template", vocab.ChatTemplate);
            }
            json.WriteBoolean("clean_up_tokenization_spaces", false);
            if (contextLength != null)
            {
                json.WriteNumber("model_max_length", contextLength.Value);
            }
            json.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
            json.WriteEndObject();
        });
    }

    private static void WriteTokenOrNull(Utf8JsonWriter json, string name, Vocabulary vocab, int id)
    {
        if (id >= 0 && id < vocab.Count)
        {
            json.WriteString(name, vocab.Text(id));
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
