using Sluice.Engine.Quantization;

namespace Sluice.Engine.Tests.Quantization;

public sealed class RoundTripErrorTests
{
    public static TheoryData<GgmlType, double> Bounds => new()
    {
        // Relative RMS error of dequantize(quantize(x)) on Gaussian data: comfortably above what each format
        // achieves (F16 ~3e-4, BF16 ~2e-3, Q8_0 ~5e-3, Q6_K ~1e-2, Q4_K ~5e-2, Q4_0 ~1e-1) and well below
        // the next coarser format, so a broken layout or scale shows up.
        { GgmlType.F16, 1e-3 },
        { GgmlType.BF16, 5e-3 },
        { GgmlType.Q8_0, 1e-2 },
        { GgmlType.Q8_K, 1e-2 },
        { GgmlType.Q6_K, 2.5e-2 },
        { GgmlType.Q4_K, 0.08 },
        { GgmlType.Q4_0, 0.15 },
    };

    [Theory]
    [MemberData(nameof(Bounds))]
    public void Round_trip_error_on_random_rows_stays_within_the_format_bound(GgmlType type, double bound)
    {
        int block = GgmlTypeInfo.BlockElements(type) == 1 ? 32 : GgmlTypeInfo.BlockElements(type);
        var rng = new Random(1234 + (int)type);
        foreach (int blocks in new[] { 1, 2, 3, 7, 16 })
        {
            int n = blocks * block;
            var x = Gaussian(rng, n, scale: rng.NextDouble() * 10 + 0.01);
            var bytes = new byte[GgmlTypeInfo.RowBytes(type, n)];
            Quantizer.Quantize(type, x, bytes);
            var y = new float[n];
            Quantizer.Dequantize(type, bytes, y);
            double error = RelativeRmsError(x, y);
            Assert.True(error < bound, $"{type}, {n} values: relative RMS error {error:G3} (bound {bound})");
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q6_K)]
    [InlineData(GgmlType.Q8_K)]
    public void Each_value_lands_within_one_quantization_step_of_its_block_scale(GgmlType type)
    {
        int block = GgmlTypeInfo.BlockElements(type);
        int levels = type switch { GgmlType.Q4_0 or GgmlType.Q4_K => 15, GgmlType.Q6_K => 63, _ => 254 };
        var rng = new Random(99);
        var x = Gaussian(rng, block * 8, 1);
        var bytes = new byte[GgmlTypeInfo.RowBytes(type, x.Length)];
        Quantizer.Quantize(type, x, bytes);
        var y = new float[x.Length];
        Quantizer.Dequantize(type, bytes, y);
        for (int b = 0; b < x.Length / block; b++)
        {
            var xs = x.AsSpan(b * block, block);
            float range = 0;
            foreach (var v in xs)
            {
                range = Math.Max(range, Math.Abs(v));
            }
            // One step of a grid spanning the block's range (x2 for the asymmetric/min formats' slack).
            float step = 2 * range / levels * 2;
            for (int i = 0; i < block; i++)
            {
                Assert.True(Math.Abs(x[b * block + i] - y[b * block + i]) <= step,
                    $"{type}: value {i} of block {b}: {x[b * block + i]} came back as {y[b * block + i]}");
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q6_K)]
    [InlineData(GgmlType.Q8_K)]
    public void All_zero_rows_quantize_to_zeros(GgmlType type)
    {
        int n = GgmlTypeInfo.BlockElements(type) * 2;
        var bytes = new byte[GgmlTypeInfo.RowBytes(type, n)];
        Array.Fill(bytes, (byte)0xAB);
        Quantizer.Quantize(type, new float[n], bytes);
        var y = new float[n];
        Quantizer.Dequantize(type, bytes, y);
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Row_lengths_that_are_not_whole_blocks_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Quantizer.Quantize(GgmlType.Q4_K, new float[100], new byte[1000]));
        Assert.Throws<ArgumentException>(() => Quantizer.Quantize(GgmlType.Q8_0, new float[32], new byte[10]));
        Assert.Throws<ArgumentException>(() => Quantizer.Dequantize(GgmlType.Q6_K, new byte[200], new float[256]));
        Assert.Throws<NotSupportedException>(() => Quantizer.Quantize(GgmlType.Q5_K, new float[256], new byte[1000]));
    }

    internal static float[] Gaussian(Random rng, int n, double scale)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1 - rng.NextDouble();
            double u2 = rng.NextDouble();
            x[i] = (float)(scale * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return x;
    }

    internal static double RelativeRmsError(ReadOnlySpan<float> reference, ReadOnlySpan<float> actual)
    {
        double err = 0, norm = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double d = reference[i] - actual[i];
            err += d * d;
            norm += (double)reference[i] * reference[i];
        }
        return Math.Sqrt(err / Math.Max(norm, 1e-300));
    }
}
