using Sluice.Engine.Kernels.Gemm;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Tests.Kernels;

[Trait("Category", "Kernels")]
public sealed unsafe class RowDequantizerTests
{
    public static TheoryData<GgmlType> Types => new() { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.F16, GgmlType.BF16, GgmlType.F32 };

    /// <summary>Every path expands weights to exactly the values the scalar codecs produce.</summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void Dequantize_AnyRange_EqualsCodecBitForBit(GgmlType type)
    {
        var rng = new Random((int)type);
        int g = RowDequantizer.Granularity(type);
        int columns = g * 12;
        var row = type is GgmlType.F16 or GgmlType.BF16 or GgmlType.F32 ? FloatRow(type, columns, rng) : RandomBlocks.Row(type, columns, rng);
        var expected = new float[columns];
        Quantizer.Dequantize(type, row, expected);
        var got = new float[columns];
        fixed (byte* rp = row)
        fixed (float* gp = got)
        {
            for (int start = 0; start < columns; start += g * 5)
            {
                int count = Math.Min(columns - start, g * 7);
                Array.Clear(got);
                RowDequantizer.Dequantize(type, rp, start, count, gp);
                for (int i = 0; i < count; i++)
                {
                    Assert.True(BitConverter.SingleToInt32Bits(expected[start + i]) == BitConverter.SingleToInt32Bits(got[i]),
                        $"{type} element {start + i}: codec {expected[start + i]}, kernel {got[i]}");
                }
            }
        }
    }

    internal static byte[] FloatRow(GgmlType type, int columns, Random rng)
    {
        var f = RandomBlocks.Floats(columns, rng);
        var bytes = new byte[GgmlTypeInfo.RowBytes(type, columns)];
        Quantizer.Quantize(type, f, bytes);
        return bytes;
    }
}
