using Sluice.Engine.Quantization;

namespace Sluice.Engine.Models.Synthesis;

/// <summary>
/// Which tensor type each tensor gets, following llama-quantize (llama_tensor_get_type in llama.cpp's
/// src/llama-quant.cpp) for a dense llama/qwen2 model without an importance matrix:
/// 1-D tensors stay F32; for a quantized mix the output matrix (and the token embedding when it doubles as
/// the output) becomes Q6_K unless the mix is Q8_0, or Q8_0 when its rows are not whole 256-blocks;
/// Q4_K_M also gives Q6_K to attn_v and ffn_down in the layers that use_more_bits picks (the first and last
/// eighth, and every third layer in between). A row length the chosen type cannot hold falls back as
/// llama-quantize does (Q6_K → Q8_0, anything → F16 when not even 32 divides it), except that where
/// llama-quantize would pick Q5_0 for Q4_K, Sluice picks Q4_0, a type its kernels run.
/// </summary>
public sealed class WeightMix
{
    private WeightMix(string name, GgmlType baseType, int fileType)
    {
        Name = name;
        BaseType = baseType;
        FileType = fileType;
    }

    public static WeightMix F32 { get; } = new("F32", GgmlType.F32, 0);
    public static WeightMix F16 { get; } = new("F16", GgmlType.F16, 1);
    public static WeightMix BF16 { get; } = new("BF16", GgmlType.BF16, 32);
    public static WeightMix Q8_0 { get; } = new("Q8_0", GgmlType.Q8_0, 7);
    public static WeightMix Q4_0 { get; } = new("Q4_0", GgmlType.Q4_0, 2);

    /// <summary>Q4_K throughout but for the output rule; labelled as llama.cpp's Q4_K_S file type.</summary>
    public static WeightMix Q4_K { get; } = new("Q4_K", GgmlType.Q4_K, 14);
    public static WeightMix Q6_K { get; } = new("Q6_K", GgmlType.Q6_K, 18);
    public static WeightMix Q4_K_M { get; } = new("Q4_K_M", GgmlType.Q4_K, 15);

    public static IReadOnlyList<WeightMix> All { get; } = [F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, Q4_K_M];

    public string Name { get; }

    /// <summary>The type of most 2-D tensors.</summary>
    public GgmlType BaseType { get; }

    /// <summary>llama.cpp's general.file_type (LLAMA_FTYPE_*).</summary>
    public int FileType { get; }

    public static bool TryParse(string name, out WeightMix mix)
    {
        mix = All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase))!;
        return mix != null;
    }

    /// <summary>The type for a tensor of <paramref name="role"/> in <paramref name="layer"/> of <paramref name="layerCount"/>.</summary>
    public GgmlType TypeFor(TensorRole role, int layer, int layerCount, long columns, bool tied, bool oneDimensional)
    {
        if (oneDimensional)
        {
            return GgmlType.F32;
        }
        if (!GgmlTypeInfo.IsQuantized(BaseType))
        {
            return BaseType;
        }
        var type = BaseType;
        if (role == TensorRole.Output || (tied && role == TensorRole.TokenEmbedding))
        {
            type = columns % GgmlTypeInfo.BlockElements(BaseType) != 0 ? GgmlType.Q8_0
                : BaseType != GgmlType.Q8_0 ? GgmlType.Q6_K
                : BaseType;
        }
        else if (this == Q4_K_M && role is TensorRole.AttentionV or TensorRole.FeedForwardDown && UseMoreBits(layer, layerCount))
        {
            type = GgmlType.Q6_K;
        }
        return Fallback(type, columns);
    }

    public override string ToString() => Name;

    /// <summary>llama-quantize's choice of layers that get more bits in the _M mixes.</summary>
    internal static bool UseMoreBits(int layer, int layerCount) =>
        layer < layerCount / 8 || layer >= 7 * layerCount / 8 || (layer - layerCount / 8) % 3 == 2;

    private static GgmlType Fallback(GgmlType type, long columns)
    {
        if (columns % GgmlTypeInfo.BlockElements(type) == 0)
        {
            return type;
        }
        var fallback = type switch
        {
            GgmlType.Q6_K => GgmlType.Q8_0,
            GgmlType.Q4_K => GgmlType.Q4_0,
            _ => GgmlType.F16,
        };
        return columns % GgmlTypeInfo.BlockElements(fallback) == 0 ? fallback : GgmlType.F16;
    }
}
