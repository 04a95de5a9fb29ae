using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Models.HuggingFace.Conversion;

/// <summary>A vocabulary as the <c>tokenizer.ggml.*</c> keys llama.cpp reads.</summary>
internal static class GgufTokenizerMetadata
{
    public static void Add(GgufWriter writer, Vocabulary vocab)
    {
        bool spm = vocab.Kind == TokenizerKind.Spm;
        var tokens = new string[vocab.Count];
        var types = new int[vocab.Count];
        var scores = new float[vocab.Count];
        for (int i = 0; i < vocab.Count; i++)
        {
            tokens[i] = vocab.Text(i);
            types[i] = (int)vocab.Type(i);
            scores[i] = vocab.Score(i);
        }
        writer.Add("tokenizer.ggml.model", spm ? "llama" : "gpt2")
            .Add("tokenizer.ggml.pre", vocab.PreTokenizerName)
            .Add("tokenizer.ggml.tokens", tokens)
            .Add("tokenizer.ggml.token_type", types);
        if (spm)
        {
            writer.Add("tokenizer.ggml.scores", scores).Add("tokenizer.ggml.add_space_prefix", vocab.AddSpacePrefix);
        }
        else
        {
            writer.Add("tokenizer.ggml.merges", vocab.Merges);
        }
        AddId(writer, "bos_token_id", vocab.BosId);
        AddId(writer, "eos_token_id", vocab.EosId);
        AddId(writer, "unknown_token_id", vocab.UnknownId);
        AddId(writer, "padding_token_id", vocab.PaddingId);
        writer.Add("tokenizer.ggml.add_bos_token", vocab.AddBos).Add("tokenizer.ggml.add_eos_token", vocab.AddEos);
        if (vocab.ChatTemplate != null)
        {
            writer.Add("tokenizer.chat_template", vocab.ChatTemplate);
        }
    }

    private static void AddId(GgufWriter writer, string key, int id)
    {
        if (id >= 0)
        {
            writer.Add("tokenizer.ggml." + key, (uint)id);
        }
    }
}
