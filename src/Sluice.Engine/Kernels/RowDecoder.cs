using Sluice.Engine.Quantization;

namespace Sluice.Engine.Kernels;

/// <summary>Decodes one weight row to floats (embedding lookup, small vectors stored in 16-bit or quantized form).</summary>
public static unsafe class RowDecoder
{
    public static void Decode(GgmlType type, byte* row, float* y, int n)
    {
        switch (type)
        {
            case GgmlType.F32:
                new ReadOnlySpan<float>(row, n).CopyTo(new Span<float>(y, n));
                break;
            case GgmlType.F16:
                for (int i = 0; i < n; i++)
                {
                    y[i] = Fp16.ToFloat(((ushort*)row)[i]);
                }
                break;
            case GgmlType.BF16:
                for (int i = 0; i < n; i++)
                {
                    y[i] = Fp16.BF16ToFloat(((ushort*)row)[i]);
                }
                break;
            case GgmlType.Q8_0:
                for (int b = 0; b < n / 32; b++, row += 34)
                {
                    float d = HalfTable.ToFloat(row);
                    for (int i = 0; i < 32; i++)
                    {
                        y[b * 32 + i] = d * ((sbyte*)(row + 2))[i];
                    }
                }
                break;
            case GgmlType.Q4_0:
                for (int b = 0; b < n / 32; b++, row += 18)
                {
                    float d = HalfTable.ToFloat(row);
                    for (int j = 0; j < 16; j++)
                    {
                        y[b * 32 + j] = d * ((row[2 + j] & 15) - 8);
                        y[b * 32 + j + 16] = d * ((row[2 + j] >> 4) - 8);
                    }
                }
                break;
            case GgmlType.Q4_K:
                DecodeQ4K(row, y, n / 256);
                break;
            case GgmlType.Q6_K:
                DecodeQ6K(row, y, n / 256);
                break;
            default:
                throw new NotSupportedException($"cannot decode {GgmlTypeInfo.Name(type)} rows");
        }
    }

    private static void DecodeQ4K(byte* w, float* y, int superBlocks)
    {
        Span<byte> sc = stackalloc byte[8];
        Span<byte> mn = stackalloc byte[8];
        for (int b = 0; b < superBlocks; b++, w += 144, y += 256)
        {
            float d = HalfTable.ToFloat(w);
            float dmin = HalfTable.ToFloat(w + 2);
            QuantDotReference.Q4KScales(w + 4, sc, mn);
            for (int c = 0; c < 4; c++)
            {
                float d1 = d * sc[2 * c], m1 = dmin * mn[2 * c];
                float d2 = d * sc[2 * c + 1], m2 = dmin * mn[2 * c + 1];
                for (int l = 0; l < 32; l++)
                {
                    byte q = w[16 + c * 32 + l];
                    y[c * 64 + l] = d1 * (q & 15) - m1;
                    y[c * 64 + 32 + l] = d2 * (q >> 4) - m2;
                }
            }
        }
    }

    private static void DecodeQ6K(byte* w, float* y, int superBlocks)
    {
        Span<int> q = stackalloc int[256];
        for (int b = 0; b < superBlocks; b++, w += 210, y += 256)
        {
            QuantDotReference.Q6KValues(w, q);
            float d = HalfTable.ToFloat(w + 208);
            var scales = (sbyte*)(w + 192);
            for (int i = 0; i < 256; i++)
            {
                y[i] = d * scales[i / 16] * (q[i] - 32);
            }
        }
    }
}
