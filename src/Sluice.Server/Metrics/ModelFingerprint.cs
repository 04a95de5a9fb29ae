using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Sluice.Engine.Models;
using Sluice.Engine.Quantization;
using Sluice.Server.Chat;

namespace Sluice.Server.Metrics;

/// <summary>
/// What identifies a served model beyond its name, for <c>sluice_model_info</c>: the weight types, short hashes of the
/// tokenizer's vocabulary and of the chat template in use, and the generation defaults, so "what changed?" between two
/// releases is answered from Prometheus. Computed once per loaded model.
/// </summary>
internal sealed record ModelFingerprint(string Quantization, string TokenizerHash, string ChatTemplateHash, string Temperature, string TopP, string TopK)
{
    public static ModelFingerprint Of(LoadedModel model, ChatPromptBuilder? chat)
    {
        var g = model.Generation;
        return new ModelFingerprint(WeightTypes(model), Short(VocabularyText(model)), Short(chat?.Template.Source ?? ""),
            Number(g?.Temperature), Number(g?.TopP), g?.TopK is { } k ? k.ToString(CultureInfo.InvariantCulture) : "");
    }

    /// <summary>The layer matrices' types by bytes, largest first ("q4_k+q6_k"): the file type llama.cpp would name.</summary>
    private static string WeightTypes(LoadedModel model)
    {
        var bytes = new Dictionary<GgmlType, long>();
        foreach (var l in model.Weights.Layers)
        {
            foreach (var m in new[] { l.Q, l.K, l.V, l.O, l.Gate, l.Up, l.Down })
            {
                bytes[m.Type] = bytes.GetValueOrDefault(m.Type) + m.ByteSize;
            }
        }
        return string.Join('+', bytes.OrderByDescending(kv => kv.Value).Select(kv => GgmlTypeInfo.Name(kv.Key).ToLowerInvariant()));
    }

    private static string VocabularyText(LoadedModel model)
    {
        var text = new StringBuilder();
        var tokenizer = model.Tokenizer;
        for (int id = 0; id < tokenizer.VocabSize; id++)
        {
            text.Append(tokenizer.TokenText(id)).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The first 16 hex digits of the SHA-256: enough to tell two apart in a dashboard.</summary>
    private static string Short(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];

    private static string Number(double? value) => value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "";
}
