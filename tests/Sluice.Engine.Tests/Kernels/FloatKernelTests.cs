using Sluice.Engine.Kernels;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Tests.Kernels;

[Trait("Category", "Kernels")]
public sealed unsafe class FloatKernelTests
{
    [Fact]
    public void FloatDots_MatchReference_AtEveryLengthTo257()
    {
        var rng = new Random(1);
        for (int n = 0; n <= 257; n++)
        {
            var w = RandomBlocks.Floats(n, rng);
            var x = RandomBlocks.Floats(n, rng);
            var h = w.Select(Fp16.FromFloat).ToArray();
            var b = w.Select(BFloat16.FromFloat).ToArray();
            fixed (float* wp = w, xp = x)
            fixed (ushort* hp = h, bp = b)
            {
                float tol = 1e-5f * (n + 1);
                Assert.Equal(FloatDot.F32Reference(wp, xp, n), FloatDot.F32(wp, xp, n), tol);
                Assert.Equal(FloatDot.F16Reference(hp, xp, n), FloatDot.F16(hp, xp, n), tol);
                Assert.Equal(FloatDot.BF16Reference(bp, xp, n), FloatDot.BF16(bp, xp, n), tol);
            }
        }
    }

    [Fact]
    public void HalfVectorConversion_MatchesScalar_ForAllBitPatterns()
    {
        var bits = new ushort[65536];
        for (int i = 0; i < bits.Length; i++)
        {
            bits[i] = (ushort)i;
        }
        var x = new float[65536];
        var w = new float[65536];
        Array.Fill(x, 1f);
        fixed (ushort* bp = bits)
        fixed (float* xp = x)
        {
            // A dot with ones over 16 values at a time exercises the vector widening on every pattern.
            for (int i = 0; i < 65536; i += 16)
            {
                for (int j = 0; j < 16; j++)
                {
                    float expected = Fp16.ToFloat(bits[i + j]);
                    if (float.IsNaN(expected) || float.IsInfinity(expected))
                    {
                        continue;
                    }
                    float got = FloatDot.F16(bp + i + j, xp, 1) + 0f;
                    Assert.Equal(expected, got);
                }
                float sumRef = 0;
                bool finite = true;
                for (int j = 0; j < 16; j++)
                {
                    float v = Fp16.ToFloat(bits[i + j]);
                    finite &= float.IsFinite(v);
                    sumRef += v;
                }
                if (finite)
                {
                    Assert.Equal(FloatDot.F16Reference(bp + i, xp, 16), FloatDot.F16(bp + i, xp, 16), Math.Abs(sumRef) * 1e-6f + 1e-30f);
                }
            }
        }
        _ = w;
    }

    [Fact]
    public void RmsNorm_MatchesReference()
    {
        var rng = new Random(2);
        foreach (int n in new[] { 1, 7, 16, 64, 255, 896 })
        {
            var x = RandomBlocks.Floats(n, rng, 4f);
            var g = RandomBlocks.Floats(n, rng);
            var a = new float[n];
            var b = new float[n];
            fixed (float* xp = x, gp = g, ap = a, bp = b)
            {
                Norms.RmsNormReference(xp, gp, ap, n, 1e-5f);
                Norms.RmsNorm(xp, gp, bp, n, 1e-5f);
            }
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(a[i], b[i], 1e-5f * Math.Max(1, Math.Abs(a[i])));
            }
        }
    }

    [Fact]
    public void SiluMul_MatchesReference_EvenInPlace()
    {
        var rng = new Random(3);
        foreach (int n in new[] { 1, 5, 256, 300, 4864 })
        {
            var g = RandomBlocks.Floats(n, rng, 6f);
            var u = RandomBlocks.Floats(n, rng, 2f);
            var expected = new float[n];
            var inPlace = (float[])g.Clone();
            fixed (float* gp = g, up = u, ep = expected, ip = inPlace)
            {
                Activations.SiluMulReference(gp, up, ep, n);
                Activations.SiluMul(ip, up, ip, n);
            }
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(expected[i], inPlace[i], 1e-5f * Math.Max(1, Math.Abs(expected[i])));
            }
        }
    }

    [Theory]
    [InlineData(RopeLayout.Normal)]
    [InlineData(RopeLayout.NeoX)]
    public void Rope_RotatesPairsAndPreservesNorm(RopeLayout layout)
    {
        const int Hd = 16;
        var cos = new float[Hd / 2];
        var sin = new float[Hd / 2];
        var x = RandomBlocks.Floats(2 * Hd, new Random(4));
        var y = (float[])x.Clone();
        fixed (float* c = cos, s = sin, yp = y)
        {
            Rope.Angles(5, Hd, 10000f, c, s);
            Rope.Apply(yp, 2, Hd, c, s, layout);
        }
        // pair 0 rotates by angle 5 (base^0 = 1)
        int i0 = 0, i1 = layout == RopeLayout.Normal ? 1 : Hd / 2;
        Assert.Equal(x[i0] * MathF.Cos(5) - x[i1] * MathF.Sin(5), y[i0], 5);
        Assert.Equal(x[i0] * MathF.Sin(5) + x[i1] * MathF.Cos(5), y[i1], 5);
        Assert.Equal(x.Sum(v => v * v), y.Sum(v => v * v), 3);
    }
}
