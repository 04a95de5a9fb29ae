using Sluice.Engine.Quantization;

namespace Sluice.Engine.Tests.Kernels;

/// <summary>Random but well-formed quantized rows and activations for kernel tests.</summary>
internal static class RandomBlocks
{
    public static byte[] Row(GgmlType type, int columns, Random rng)
    {
        int blockBytes = GgmlTypeInfo.BlockBytes(type);
        int blockElems = GgmlTypeInfo.BlockElements(type);
        var row = new byte[columns / blockElems * blockBytes];
        rng.NextBytes(row);
        for (int b = 0; b < columns / blockElems; b++)
        {
            int o = b * blockBytes;
            switch (type)
            {
                case GgmlType.Q8_0:
                    SetHalf(row, o, Scale(rng));
                    for (int i = 0; i < 32; i++)
                    {
                        // ggml's Q8_0 values lie in [-127, 127]
                        if (row[o + 2 + i] == 0x80)
                        {
                            row[o + 2 + i] = 0x81;
                        }
                    }
                    break;
                case GgmlType.Q4_0:
                    SetHalf(row, o, Scale(rng));
                    break;
                case GgmlType.Q4_K:
                    SetHalf(row, o, Scale(rng));
                    SetHalf(row, o + 2, Scale(rng));
                    break;
                case GgmlType.Q6_K:
                    SetHalf(row, o + 208, Scale(rng));
                    break;
            }
        }
        return row;
    }

    private static float Scale(Random rng) => (float)(rng.NextDouble() * 0.02 + 0.001);

    private static void SetHalf(byte[] row, int offset, float value)
    {
        ushort h = Fp16.FromFloat(value);
        row[offset] = (byte)h;
        row[offset + 1] = (byte)(h >> 8);
    }

    public static float[] Floats(int n, Random rng, float scale = 1f)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        }
        return x;
    }
}
