using Sluice.Engine.Quantization;

namespace Sluice.Engine.Formats.SafeTensors;

/// <summary>Element types a safetensors header can name (the format's own spelling is the enum name).</summary>
public enum SafeTensorsDType
{
    BOOL,
    U8,
    I8,
    F8_E5M2,
    F8_E4M3,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64,
}

public static class SafeTensorsDTypes
{
    /// <summary>Parses a header's dtype string; false for a name the format does not define.</summary>
    public static bool TryParse(string name, out SafeTensorsDType dtype)
    {
        // Exact names only: Enum.TryParse would also take numbers and comma lists.
        bool known = Array.IndexOf(Enum.GetNames<SafeTensorsDType>(), name) >= 0;
        dtype = known ? Enum.Parse<SafeTensorsDType>(name) : default;
        return known;
    }

    public static int ElementBytes(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.BOOL or SafeTensorsDType.U8 or SafeTensorsDType.I8 or SafeTensorsDType.F8_E5M2 or SafeTensorsDType.F8_E4M3 => 1,
        SafeTensorsDType.I16 or SafeTensorsDType.U16 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 => 2,
        SafeTensorsDType.I32 or SafeTensorsDType.U32 or SafeTensorsDType.F32 => 4,
        _ => 8,
    };

    /// <summary>The ggml type with the same bytes, for the float types the engine computes with.</summary>
    public static bool TryToGgml(SafeTensorsDType dtype, out GgmlType type)
    {
        type = dtype switch
        {
            SafeTensorsDType.F32 => GgmlType.F32,
            SafeTensorsDType.F16 => GgmlType.F16,
            SafeTensorsDType.BF16 => GgmlType.BF16,
            _ => (GgmlType)uint.MaxValue,
        };
        return type != (GgmlType)uint.MaxValue;
    }

    public static SafeTensorsDType FromGgml(GgmlType type) => type switch
    {
        GgmlType.F32 => SafeTensorsDType.F32,
        GgmlType.F16 => SafeTensorsDType.F16,
        GgmlType.BF16 => SafeTensorsDType.BF16,
        _ => throw new ArgumentException($"safetensors has no {GgmlTypeInfo.Name(type)} type (only F32, F16, BF16 are written)"),
    };
}
