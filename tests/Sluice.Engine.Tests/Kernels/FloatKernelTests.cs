using System.Runtime.Intrinsics;
using Sluice.Engine.Kernels;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Tests.Kernels;

[Trait("Category", "Kernels")]
public sealed unsafe class FloatKernelTests
{
    [Fact]
    public void F32Dot_MatchesReference_AtEveryLengthTo257()
    {
        var rng = new Random(1);
        for (int n = 0; n <= 257; n++)
        {
            var w = RandomBlocks.Floats(n, rng);
            var x = RandomBlocks.Floats(n, rng);
            fixed (float* wp = w, xp = x)
            {
                Assert.Equal(FloatDot.F32Reference(wp, xp, n), FloatDot.F32(wp, xp, n), 1e-5f * (n + 1));
            }
        }
    }

    [Fact]
    public void HalfVectorWidening_MatchesScalar_ForEveryFinitePattern()
    {
        if (!Simd.Use256)
        {
            return; // the vector widening is only taken on the AVX2 and AVX-512 paths
        }
        var bits = new ushort[16];
        for (int i = 0; i < 65536; i += 16)
        {
            for (int j = 0; j < 16; j++)
            {
                bits[j] = (ushort)(i + j);
            }
            fixed (ushort* bp = bits)
            {
                // the 16-wide form needs AVX-512; without it the 8-wide form stands in
                var v = new float[16];
                fixed (float* vp = v)
                {
                    if (Simd.Use512)
                    {
                        HalfVectors.ToFloat(System.Runtime.Intrinsics.Vector256.Load(bp)).Store(vp);
                    }
                    else
                    {
                        HalfVectors.ToFloat(System.Runtime.Intrinsics.Vector128.Load(bp)).Store(vp);
                        HalfVectors.ToFloat(System.Runtime.Intrinsics.Vector128.Load(bp + 8)).Store(vp + 8);
                    }
                }
                var lo = HalfVectors.ToFloat(System.Runtime.Intrinsics.Vector128.Load(bp));
                var hi = HalfVectors.ToFloat(System.Runtime.Intrinsics.Vector128.Load(bp + 8));
                for (int j = 0; j < 16; j++)
                {
                    float expected = Fp16.ToFloat(bits[j]);
                    float narrow = j < 8 ? lo[j] : hi[j - 8];
                    if (float.IsNaN(expected))
                    {
                        Assert.True(float.IsNaN(v[j]) && float.IsNaN(narrow));
                        continue;
                    }
                    Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(v[j]));
                    Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(narrow));
                }
            }
        }
    }

    [Fact]
    public void ScaledHalfWidening_IsExactlyTheValueTimesTwoToMinus112_ForEveryFinitePattern()
    {
        if (!Simd.Use512)
        {
            return; // the scaled widening is only taken on the AVX-512 path
        }
        var bits = new ushort[16];
        for (int i = 0; i < 65536; i += 16)
        {
            for (int j = 0; j < 16; j++)
            {
                bits[j] = (ushort)(i + j);
            }
            fixed (ushort* bp = bits)
            {
                var v = HalfVectors.FiniteToScaledFloat(System.Runtime.Intrinsics.Vector256.Load((short*)bp));
                for (int j = 0; j < 16; j++)
                {
                    float value = Fp16.ToFloat(bits[j]);
                    if (!float.IsFinite(value))
                    {
                        continue;
                    }
                    // the product with x * 2^112 is what decode needs exact: check it against value * x
                    double scaled = (double)v[j] * Math.Pow(2, 112);
                    Assert.Equal((double)value, scaled);
                    Assert.Equal(float.IsNegative(value), float.IsNegative(v[j]));
                    // the 256-bit form (F16 kernels on AVX2) widens the same way
                    var lane = HalfVectors.FiniteToScaledFloat(System.Runtime.Intrinsics.Vector128.Load((short*)bp + (j & 8)));
                    Assert.Equal(BitConverter.SingleToInt32Bits(v[j]), BitConverter.SingleToInt32Bits(lane[j & 7]));
                }
            }
        }
    }

    [Fact]
    public void ExactHalfWidening_MatchesScalar_ForEveryFinitePattern_WithNoDenormal()
    {
        if (!Simd.Use256)
        {
            return; // the exact 256-bit widening is only taken on the AVX2 path
        }
        var bits = new ushort[8];
        for (int i = 0; i < 65536; i += 8)
        {
            for (int j = 0; j < 8; j++)
            {
                bits[j] = (ushort)(i + j);
            }
            fixed (ushort* bp = bits)
            {
                var v = HalfVectors.ExactToFloat(System.Runtime.Intrinsics.Vector128.Load((short*)bp));
                for (int j = 0; j < 8; j++)
                {
                    float value = Fp16.ToFloat(bits[j]);
                    if (!float.IsFinite(value))
                    {
                        continue;
                    }
                    Assert.Equal(BitConverter.SingleToInt32Bits(value), BitConverter.SingleToInt32Bits(v[j]));
                    Assert.False(float.IsSubnormal(v[j]), $"half 0x{bits[j]:X4} widened to a float denormal");
                }
                if (Simd.Use512)
                {
                    // the 512-bit form (F16 kernels on AVX-512) widens the same way
                    var wide = HalfVectors.ExactToFloat(System.Runtime.Intrinsics.Vector256.Create(System.Runtime.Intrinsics.Vector128.Load((short*)bp), System.Runtime.Intrinsics.Vector128.Load((short*)bp)));
                    for (int j = 0; j < 16; j++)
                    {
                        Assert.Equal(BitConverter.SingleToInt32Bits(v[j & 7]), BitConverter.SingleToInt32Bits(wide[j]));
                    }
                }
            }
        }
    }

    [Fact]
    public void RoundingRows_MatchScalarRounding_IncludingEdges()
    {
        var rng = new Random(12);
        var values = new List<float>
        {
            0f, -0f, 1f, -1f, 65504f, 65519.99f, 65520f, 70000f, -65536f, float.PositiveInfinity, float.NegativeInfinity,
            6.1035156e-5f, 6.1035e-5f, 5.96e-8f, 2.98e-8f, 2.99e-8f, 1e-10f, -3e-6f, 1.0009765625f, 1.00048828125f,
            BitConverter.Int32BitsToSingle(0x3F802000), BitConverter.Int32BitsToSingle(0x3F806000), 1e-40f, 3.4e38f,
        };
        for (int i = 0; i < 5000; i++)
        {
            values.Add(BitConverter.Int32BitsToSingle(rng.Next()) * (rng.Next(2) == 0 ? 1 : -1));
            values.Add((float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-30, 20))));
        }
        values.Add(float.NaN);
        values.Add(-float.NaN);
        values.Add(BitConverter.Int32BitsToSingle(0x7F800001));
        var x = values.ToArray();
        var h = new float[x.Length];
        var b = new float[x.Length];
        var bits = new ushort[x.Length];
        fixed (float* xp = x, hp = h, bp = b)
        fixed (ushort* sp = bits)
        {
            HalfVectors.RoundToHalfRow(xp, hp, x.Length);
            HalfVectors.RoundToBF16Row(xp, bp, x.Length);
            HalfVectors.ToHalfRow(xp, sp, x.Length);
        }
        for (int i = 0; i < x.Length; i++)
        {
            Assert.True(Fp16.FromFloat(x[i]) == bits[i], $"half bits of {x[i]:R} (0x{BitConverter.SingleToUInt32Bits(x[i]):X8}): 0x{Fp16.FromFloat(x[i]):X4} vs 0x{bits[i]:X4}");
            float eh = HalfVectors.RoundToHalf(x[i]), eb = HalfVectors.RoundToBF16(x[i]);
            Assert.True(float.IsNaN(eh) ? float.IsNaN(h[i]) : BitConverter.SingleToInt32Bits(eh) == BitConverter.SingleToInt32Bits(h[i]), $"half of {x[i]:R}: {eh:R} vs {h[i]:R}");
            Assert.True(float.IsNaN(eb) ? float.IsNaN(b[i]) : BitConverter.SingleToInt32Bits(eb) == BitConverter.SingleToInt32Bits(b[i]), $"bf16 of {x[i]:R}: {eb:R} vs {b[i]:R}");
        }
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

    /// <summary>The vector forms round as the scalar formulas do: bitwise the same rotation (separate products, no FMA).</summary>
    [Theory]
    [InlineData(RopeLayout.Normal, 64)]
    [InlineData(RopeLayout.Normal, 20)]
    [InlineData(RopeLayout.NeoX, 128)]
    [InlineData(RopeLayout.NeoX, 20)]
    public void Rope_EqualsTheScalarFormulasBitwise(RopeLayout layout, int hd)
    {
        const int Heads = 3;
        var rng = new Random(hd);
        var x = RandomBlocks.Floats(Heads * hd, rng, 3f);
        var cos = new float[hd / 2];
        var sin = new float[hd / 2];
        var expected = (float[])x.Clone();
        fixed (float* xp = x, cp = cos, sp = sin)
        {
            Rope.Angles(777, hd, 10000f, cp, sp);
            Rope.Apply(xp, Heads, hd, cp, sp, layout);
        }
        int half = hd / 2;
        for (int h = 0; h < Heads; h++)
        {
            for (int i = 0; i < half; i++)
            {
                int ia = layout == RopeLayout.Normal ? h * hd + 2 * i : h * hd + i;
                int ib = layout == RopeLayout.Normal ? ia + 1 : ia + half;
                float a = expected[ia], b = expected[ib];
                float ra = (a * cos[i]) - (b * sin[i]);
                float rb = (a * sin[i]) + (b * cos[i]);
                Assert.Equal(BitConverter.SingleToInt32Bits(ra), BitConverter.SingleToInt32Bits(x[ia]));
                Assert.Equal(BitConverter.SingleToInt32Bits(rb), BitConverter.SingleToInt32Bits(x[ib]));
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
