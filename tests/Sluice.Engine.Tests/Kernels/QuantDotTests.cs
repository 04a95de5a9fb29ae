using Sluice.Engine.Kernels;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Tests.Kernels;

[Trait("Category", "Kernels")]
public sealed unsafe class QuantDotTests
{
    public static TheoryData<GgmlType> Types => new() { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K };

    [Theory]
    [MemberData(nameof(Types))]
    public void Fast_MatchesReference_AtEveryBlockCount(GgmlType type)
    {
        var rng = new Random(42);
        int block = GgmlTypeInfo.BlockElements(type);
        var format = block == 32 ? ActivationFormat.Q8_0 : ActivationFormat.Q8_K;
        int maxBlocks = block == 32 ? 67 : 13;
        using var act = new QuantizedActivations();
        for (int blocks = 1; blocks <= maxBlocks; blocks++)
        {
            int k = blocks * block;
            var w = RandomBlocks.Row(type, k, rng);
            var x = RandomBlocks.Floats(k, rng, 3f);
            act.Prepare(format, 1, k);
            fixed (float* xp = x)
            {
                ActivationQuantizer.QuantizeRow(format, xp, k, act.Qs(0), act.Scales(0), act.Sums(0));
            }
            fixed (byte* wp = w)
            {
                float reference = Reference(type, wp, act, blocks);
                float fast = Fast(type, wp, act, blocks);
                float tol = 1e-4f * Math.Max(1f, SumAbs(type, wp, act, blocks));
                Assert.True(Math.Abs(reference - fast) <= tol, $"{type} blocks={blocks} path={Simd.Describe()}: reference {reference}, fast {fast}");
            }
        }
    }

    private static float Reference(GgmlType type, byte* w, QuantizedActivations a, int blocks) => type switch
    {
        GgmlType.Q8_0 => QuantDotReference.Q8_0(w, a.Qs(0), a.Scales(0), blocks),
        GgmlType.Q4_0 => QuantDotReference.Q4_0(w, a.Qs(0), a.Scales(0), blocks),
        GgmlType.Q4_K => QuantDotReference.Q4_K(w, a.Qs(0), a.Scales(0), a.Sums(0), blocks),
        _ => QuantDotReference.Q6_K(w, a.Qs(0), a.Scales(0), blocks),
    };

    private static float Fast(GgmlType type, byte* w, QuantizedActivations a, int blocks) => type switch
    {
        GgmlType.Q8_0 => QuantDot.Q8_0(w, a.Qs(0), a.Scales(0), blocks),
        GgmlType.Q4_0 => QuantDot.Q4_0(w, a.Qs(0), a.Scales(0), a.Sums(0), blocks),
        GgmlType.Q4_K => QuantDot.Q4_K(w, a.Qs(0), a.Scales(0), a.Sums(0), blocks),
        _ => QuantDot.Q6_K(w, a.Qs(0), a.Scales(0), a.Sums(0), blocks),
    };

    // magnitude of the sum's terms, for a relative tolerance
    private static float SumAbs(GgmlType type, byte* w, QuantizedActivations a, int blocks)
    {
        int k = blocks * GgmlTypeInfo.BlockElements(type);
        var wf = new float[k];
        fixed (float* p = wf)
        {
            RowDecoder.Decode(type, w, p, k);
        }
        float s = 0;
        int bs = a.BlockSize;
        for (int i = 0; i < k; i++)
        {
            s += Math.Abs(wf[i] * a.Qs(0)[i] * a.Scales(0)[i / bs]);
        }
        return s;
    }

    [Fact]
    public void ActivationQ8_0_ReconstructsWithinHalfAStep()
    {
        var rng = new Random(7);
        var x = RandomBlocks.Floats(256, rng, 5f);
        using var a = new QuantizedActivations();
        a.Prepare(ActivationFormat.Q8_0, 1, 256);
        fixed (float* xp = x)
        {
            ActivationQuantizer.QuantizeRow(ActivationFormat.Q8_0, xp, 256, a.Qs(0), a.Scales(0), a.Sums(0));
        }
        for (int b = 0; b < 8; b++)
        {
            float d = a.Scales(0)[b];
            int sum = 0;
            for (int i = 0; i < 32; i++)
            {
                float back = a.Qs(0)[b * 32 + i] * d;
                Assert.True(Math.Abs(back - x[b * 32 + i]) <= d * 0.51f + 1e-3f);
                sum += a.Qs(0)[b * 32 + i];
            }
            Assert.Equal(sum, a.Sums(0)[b]);
        }
    }

    [Fact]
    public void ActivationQ8_K_KeepsLargestMagnitudeExactAndSumsPerSixteen()
    {
        var rng = new Random(8);
        var x = RandomBlocks.Floats(512, rng, 2f);
        x[37] = -9f;
        using var a = new QuantizedActivations();
        a.Prepare(ActivationFormat.Q8_K, 1, 512);
        fixed (float* xp = x)
        {
            ActivationQuantizer.QuantizeRow(ActivationFormat.Q8_K, xp, 512, a.Qs(0), a.Scales(0), a.Sums(0));
        }
        Assert.Equal(-9f, a.Qs(0)[37] * a.Scales(0)[0], 4);
        for (int s = 0; s < 32; s++)
        {
            int sum = 0;
            for (int i = 0; i < 16; i++)
            {
                sum += a.Qs(0)[s * 16 + i];
            }
            Assert.Equal(sum, a.Sums(0)[s]);
        }
    }

    [Fact]
    public void ActivationQuantizers_FastPathsEqualScalarReferences()
    {
        var rng = new Random(11);
        for (int trial = 0; trial < 200; trial++)
        {
            var x = RandomBlocks.Floats(256, rng, (float)Math.Pow(10, rng.Next(-3, 3)));
            if (trial % 3 == 0)
            {
                // exact halves after scaling exercise round-half-even; a negative extreme the Q8_K sign
                x[rng.Next(256)] = -x.Max(Math.Abs) * 1.5f;
                x[5] = x[7] / 2;
            }
            if (trial % 7 == 0)
            {
                Array.Clear(x, 0, 32);
            }
            var q1 = new sbyte[256];
            var q2 = new sbyte[256];
            var s1 = new int[16];
            var s2 = new int[16];
            fixed (float* xp = x)
            fixed (sbyte* a = q1, b = q2)
            fixed (int* sa = s1, sb = s2)
            {
                var scales = new float[8];
                fixed (float* sc = scales)
                {
                    ActivationQuantizer.QuantizeRow(ActivationFormat.Q8_0, xp, 256, a, sc, sa);
                }
                for (int blk = 0; blk < 8; blk++)
                {
                    ActivationQuantizer.QuantizeBlockQ8_0Reference(xp + blk * 32, b + blk * 32, out float rs, out int rsum);
                    Assert.Equal(rs, scales[blk]);
                    Assert.Equal(rsum, s1[blk]);
                }
                Assert.Equal(q2, q1);

                float kscale;
                ActivationQuantizer.QuantizeRow(ActivationFormat.Q8_K, xp, 256, a, &kscale, sa);
                ActivationQuantizer.QuantizeBlockQ8KReference(xp, b, out float rk, sb);
                Assert.Equal(rk, kscale);
                Assert.Equal(q2, q1);
                Assert.Equal(s2, s1);
            }
        }
    }
}
