using Sluice.Engine.Formats.Gguf;

namespace Sluice.Engine.Models.Synthesis.Vocabulary;

/// <summary>
/// Turns tiktoken ranks into GGUF tokenizer metadata of llama.cpp's "gpt2" (byte-level BPE) kind: token i is
/// rank i spelled in byte-level unicode, merges are derived from the ranks, and the special tokens sit at
/// cl100k's own ids (&lt;|endoftext|&gt; 100257, FIM tokens, and ChatML's &lt;|im_start|&gt; 100264 and
/// &lt;|im_end|&gt; 100265 as OpenAI's chat models number them), unassigned ids in between being unused fillers.
/// The pre-tokenizer is "llama-bpe": Llama 3 adopted cl100k's split pattern, and llama.cpp's whole-word
/// shortcut for it (ignore_merges) is what tiktoken does too.
/// </summary>
public static class Cl100kVocabulary
{
    public const string EndOfText = "<|endoftext|>";
    public const string ImStart = "<|im_start|>";
    public const string ImEnd = "<|im_end|>";

    /// <summary>A plain ChatML template (Jinja), as llama.cpp and chat UIs read tokenizer.chat_template.</summary>
    public const string ChatMlTemplate =
        "{%- for message in messages %}" +
        "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
        "{%- endfor %}" +
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

    /// <summary>Special token ids as offsets from the number of ranks: cl100k has 100256 ranks and &lt;|endoftext|&gt; is 100257.</summary>
    private static readonly (int Offset, string Text)[] Specials =
    [
        (1, EndOfText),
        (2, "<|fim_prefix|>"),
        (3, "<|fim_middle|>"),
        (4, "<|fim_suffix|>"),
        (8, ImStart),
        (9, ImEnd),
        (20, "<|endofprompt|>"),
    ];

    /// <summary>
    /// The tokenizer.* metadata for these ranks. With <paramref name="specialsAfterRanks"/> the special tokens
    /// follow the ranks directly (no fillers), for small vocabularies.
    /// </summary>
    public static List<KeyValuePair<string, GgufValue>> Build(byte[][] ranks, bool specialsAfterRanks = false)
    {
        var byteTable = ByteLevelUnicode.Table();
        var specials = specialsAfterRanks
            ? Specials.Select((s, i) => (Id: ranks.Length + i, s.Text)).ToArray()
            : Specials.Select(s => (Id: ranks.Length + s.Offset, s.Text)).ToArray();
        int size = specials.Max(s => s.Id) + 1;
        var tokens = new string[size];
        var types = new int[size];
        for (int r = 0; r < ranks.Length; r++)
        {
            tokens[r] = ByteLevelUnicode.Encode(ranks[r], byteTable);
            types[r] = (int)TokenType.Normal;
        }
        for (int id = ranks.Length; id < size; id++)
        {
            tokens[id] = $"[PAD{id}]";
            types[id] = (int)TokenType.Unused;
        }
        foreach (var (id, text) in specials)
        {
            tokens[id] = text;
            types[id] = (int)TokenType.Control;
        }
        var merges = TiktokenMerges.Derive(ranks, byteTable, out _);
        int IdOf(string text) => specials.First(s => s.Text == text).Id;

        return
        [
            new("tokenizer.ggml.model", Str("gpt2")),
            new("tokenizer.ggml.pre", Str("llama-bpe")),
            new("tokenizer.ggml.tokens", new GgufValue(GgufValueType.Array, tokens, GgufValueType.String)),
            new("tokenizer.ggml.token_type", new GgufValue(GgufValueType.Array, types, GgufValueType.Int32)),
            new("tokenizer.ggml.merges", new GgufValue(GgufValueType.Array, merges.ToArray(), GgufValueType.String)),
            new("tokenizer.ggml.bos_token_id", U32(IdOf(EndOfText))),
            new("tokenizer.ggml.eos_token_id", U32(IdOf(EndOfText))),
            new("tokenizer.ggml.eot_token_id", U32(IdOf(ImEnd))),
            new("tokenizer.ggml.padding_token_id", U32(IdOf(EndOfText))),
            new("tokenizer.ggml.add_bos_token", new GgufValue(GgufValueType.Bool, false)),
            new("tokenizer.chat_template", Str(ChatMlTemplate)),
        ];
    }

    private static GgufValue Str(string s) => new(GgufValueType.String, s);

    private static GgufValue U32(int v) => new(GgufValueType.UInt32, (uint)v);
}
