using Sluice.Engine.Quantization;

namespace Sluice.Engine.Kernels;

/// <summary>Decodes one weight row to floats (embedding lookup, vectors stored in 16-bit or quantized form).</summary>
public static unsafe class RowDecoder
{
    public static void Decode(GgmlType type, byte* row, float* y, int n) =>
        Quantizer.Dequantize(type, new ReadOnlySpan<byte>(row, checked((int)GgmlTypeInfo.RowBytes(type, n))), new Span<float>(y, n));
}
