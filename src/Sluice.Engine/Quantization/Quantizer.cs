using System.Runtime.InteropServices;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Quantization.Codecs;

namespace Sluice.Engine.Quantization;

/// <summary>
/// Converts rows of floats to and from the tensor types Sluice stores, reproducing ggml's reference
/// quantizers bit for bit (so a file written here equals llama-quantize's output for the same floats).
/// Rows are whole blocks: a multiple of 32 values for Q8_0/Q4_0 and of 256 for the K-quants.
/// </summary>
public static class Quantizer
{
    /// <summary>True for the types <see cref="Quantize"/> and <see cref="Dequantize"/> handle.</summary>
    public static bool Supports(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16
        or GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q6_K or GgmlType.Q8_K;

    /// <summary>Writes <paramref name="src"/> as <paramref name="type"/> into the first RowBytes(type, src.Length) bytes of <paramref name="dst"/>.</summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.AsBytes(src).CopyTo(dst); break;
            case GgmlType.F16: F16Codec.Quantize(src, dst); break;
            case GgmlType.BF16: BF16Codec.Quantize(src, dst); break;
            case GgmlType.Q8_0: Q8_0Codec.Quantize(src, dst); break;
            case GgmlType.Q4_0: Q4_0Codec.Quantize(src, dst); break;
            case GgmlType.Q4_K: Q4_KCodec.Quantize(src, dst); break;
            case GgmlType.Q6_K: Q6_KCodec.Quantize(src, dst); break;
            case GgmlType.Q8_K: Q8_KCodec.Quantize(src, dst); break;
            default: throw Unsupported(type);
        }
    }

    /// <summary>Expands all of <paramref name="src"/> (whole blocks of <paramref name="type"/>) into <paramref name="dst"/>.</summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (type)
        {
            case GgmlType.F32:
                if (src.Length % 4 != 0)
                {
                    throw new ArgumentException($"F32: {src.Length} bytes is not a whole number of floats");
                }
                src.CopyTo(MemoryMarshal.AsBytes(dst));
                break;
            case GgmlType.F16: F16Codec.Dequantize(src, dst); break;
            case GgmlType.BF16: BF16Codec.Dequantize(src, dst); break;
            case GgmlType.Q8_0: Q8_0Codec.Dequantize(src, dst); break;
            case GgmlType.Q4_0: Q4_0Codec.Dequantize(src, dst); break;
            case GgmlType.Q4_K: Q4_KCodec.Dequantize(src, dst); break;
            case GgmlType.Q6_K: Q6_KCodec.Dequantize(src, dst); break;
            case GgmlType.Q8_K: Q8_KCodec.Dequantize(src, dst); break;
            default: throw Unsupported(type);
        }
    }

    /// <summary>Dequantizes row <paramref name="row"/> of a tensor whose data is <paramref name="tensorData"/>; <paramref name="dst"/> gets <paramref name="columns"/> values.</summary>
    public static void DequantizeRow(GgmlType type, ReadOnlySpan<byte> tensorData, long columns, long row, Span<float> dst)
    {
        int rowBytes = checked((int)RowBytesOrThrow(type, columns));
        long start = checked(row * rowBytes);
        if (row < 0 || start + rowBytes > tensorData.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(row), $"row {row} is outside the tensor data ({tensorData.Length} bytes, {rowBytes} per row)");
        }
        Dequantize(type, tensorData.Slice((int)start, rowBytes), dst[..(int)columns]);
    }

    /// <summary>Dequantizes row <paramref name="row"/> of a tensor in a mapped GGUF file (works for tensors over 2 GiB).</summary>
    public static unsafe void DequantizeRow(GgufFile file, GgufTensorInfo tensor, long row, Span<float> dst)
    {
        long rowBytes = RowBytesOrThrow(tensor.Type, tensor.Columns);
        if (row < 0 || row >= tensor.Rows)
        {
            throw new ArgumentOutOfRangeException(nameof(row), $"tensor '{tensor.Name}' has {tensor.Rows} rows, asked for row {row}");
        }
        var data = new ReadOnlySpan<byte>(file.TensorData(tensor) + row * rowBytes, checked((int)rowBytes));
        Dequantize(tensor.Type, data, dst[..checked((int)tensor.Columns)]);
    }

    private static long RowBytesOrThrow(GgmlType type, long columns)
    {
        long rowBytes = GgmlTypeInfo.RowBytes(type, columns);
        return rowBytes >= 0 && Supports(type)
            ? rowBytes
            : throw new ArgumentException($"cannot dequantize rows of {columns} {GgmlTypeInfo.Name(type)} values");
    }

    private static NotSupportedException Unsupported(GgmlType type) =>
        new($"no quantizer for tensor type {GgmlTypeInfo.Name(type)} (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, Q8_K)");
}
