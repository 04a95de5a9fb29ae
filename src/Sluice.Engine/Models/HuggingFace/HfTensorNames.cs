using System.Globalization;
using Sluice.Engine.Models.Synthesis;

namespace Sluice.Engine.Models.HuggingFace;

/// <summary>
/// Tensor names of Hugging Face llama/mistral/qwen2/qwen3 checkpoints and their llama.cpp (GGUF)
/// equivalents: <c>model.layers.3.self_attn.q_proj.weight</c> is <c>blk.3.attn_q.weight</c>.
/// </summary>
public static class HfTensorNames
{
    private const string LayerPrefix = "model.layers.";
    private const string BlockPrefix = "blk.";

    private static readonly (string Gguf, string Hf)[] Global =
    [
        ("token_embd.weight", "model.embed_tokens.weight"),
        ("output_norm.weight", "model.norm.weight"),
        ("output.weight", "lm_head.weight"),
    ];

    private static readonly (string Gguf, string Hf)[] PerLayer =
    [
        ("attn_norm.weight", "input_layernorm.weight"),
        ("attn_q.weight", "self_attn.q_proj.weight"),
        ("attn_k.weight", "self_attn.k_proj.weight"),
        ("attn_v.weight", "self_attn.v_proj.weight"),
        ("attn_q.bias", "self_attn.q_proj.bias"),
        ("attn_k.bias", "self_attn.k_proj.bias"),
        ("attn_v.bias", "self_attn.v_proj.bias"),
        ("attn_output.weight", "self_attn.o_proj.weight"),
        ("attn_q_norm.weight", "self_attn.q_norm.weight"),
        ("attn_k_norm.weight", "self_attn.k_norm.weight"),
        ("ffn_norm.weight", "post_attention_layernorm.weight"),
        ("ffn_gate.weight", "mlp.gate_proj.weight"),
        ("ffn_up.weight", "mlp.up_proj.weight"),
        ("ffn_down.weight", "mlp.down_proj.weight"),
    ];

    /// <summary>The checkpoint name for a GGUF tensor name, or null when checkpoints have no such tensor.</summary>
    public static string? ToHuggingFace(string ggufName) => Translate(ggufName, BlockPrefix, LayerPrefix, fromGguf: true);

    /// <summary>The GGUF name for a checkpoint tensor name, or null when llama.cpp has no such tensor.</summary>
    public static string? ToGguf(string hfName) => Translate(hfName, LayerPrefix, BlockPrefix, fromGguf: false);

    /// <summary>The layer a GGUF name belongs to ("blk.N."), or -1.</summary>
    public static int LayerOf(string ggufName) => SplitLayer(ggufName, BlockPrefix, out int layer, out _) ? layer : -1;

    /// <summary>What a GGUF matrix does, for choosing its quantized type; null for vectors and unknown names.</summary>
    public static TensorRole? RoleOf(string ggufName)
    {
        switch (ggufName)
        {
            case "token_embd.weight":
                return TensorRole.TokenEmbedding;
            case "output.weight":
                return TensorRole.Output;
        }
        if (!SplitLayer(ggufName, BlockPrefix, out _, out var rest))
        {
            return null;
        }
        return rest switch
        {
            "attn_q.weight" => TensorRole.AttentionQ,
            "attn_k.weight" => TensorRole.AttentionK,
            "attn_v.weight" => TensorRole.AttentionV,
            "attn_output.weight" => TensorRole.AttentionOutput,
            "ffn_gate.weight" => TensorRole.FeedForwardGate,
            "ffn_up.weight" => TensorRole.FeedForwardUp,
            "ffn_down.weight" => TensorRole.FeedForwardDown,
            _ => null,
        };
    }

    /// <summary>The GGUF names of a model's tensors in llama.cpp's order (some are optional: biases, norms, output).</summary>
    public static IEnumerable<string> GgufOrder(int blockCount)
    {
        yield return "token_embd.weight";
        for (int i = 0; i < blockCount; i++)
        {
            foreach (var (g, _) in PerLayer)
            {
                yield return BlockPrefix + i.ToString(CultureInfo.InvariantCulture) + "." + g;
            }
        }
        yield return "output_norm.weight";
        yield return "output.weight";
        yield return "rope_freqs.weight";
    }

    private static string? Translate(string name, string fromPrefix, string toPrefix, bool fromGguf)
    {
        foreach (var (g, h) in Global)
        {
            if (name == (fromGguf ? g : h))
            {
                return fromGguf ? h : g;
            }
        }
        if (!SplitLayer(name, fromPrefix, out int layer, out var rest))
        {
            return null;
        }
        foreach (var (g, h) in PerLayer)
        {
            if (rest == (fromGguf ? g : h))
            {
                return toPrefix + layer.ToString(CultureInfo.InvariantCulture) + "." + (fromGguf ? h : g);
            }
        }
        return null;
    }

    private static bool SplitLayer(string name, string prefix, out int layer, out string rest)
    {
        layer = -1;
        rest = "";
        if (!name.StartsWith(prefix, StringComparison.Ordinal))
        {
            return false;
        }
        int dot = name.IndexOf('.', prefix.Length);
        if (dot < 0 || !int.TryParse(name.AsSpan(prefix.Length, dot - prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out layer))
        {
            return false;
        }
        rest = name[(dot + 1)..];
        return true;
    }
}
