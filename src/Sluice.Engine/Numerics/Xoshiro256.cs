namespace Sluice.Engine.Numerics;

/// <summary>
/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64: fast, small state, and the same
/// sequence on every platform and .NET version (System.Random promises none of that). Synthesis gives
/// each tensor row its own generator derived from (seed, tensor name, row), so rows can be filled in any
/// order or in parallel; sampling gives each request its own, so a seed reproduces its tokens whatever
/// else is in the batch.
/// </summary>
internal struct Xoshiro256
{
    private ulong _s0, _s1, _s2, _s3;

    public Xoshiro256(ulong seed)
    {
        ulong sm = seed;
        _s0 = SplitMix(ref sm);
        _s1 = SplitMix(ref sm);
        _s2 = SplitMix(ref sm);
        _s3 = SplitMix(ref sm);
    }

    /// <summary>The generator for one row of one tensor.</summary>
    public static Xoshiro256 ForRow(ulong seed, string tensorName, long row)
    {
        ulong h = seed ^ Fnv1a(tensorName);
        ulong a = SplitMix(ref h);
        ulong b = a + (ulong)row;
        return new Xoshiro256(SplitMix(ref b));
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>
    /// Mean 0, variance 1: the sum of four 16-bit uniforms, centred and scaled (Irwin-Hall). One draw per
    /// value keeps multi-gigabyte models fast, and the bounded tails (±3.46) suit weights.
    /// </summary>
    public float NextGaussian()
    {
        ulong r = NextUInt64();
        uint sum = (uint)(r & 0xFFFF) + (uint)((r >> 16) & 0xFFFF) + (uint)((r >> 32) & 0xFFFF) + (uint)(r >> 48);
        return ((sum + 2) * (1f / 65536f) - 2f) * 1.7320508f;
    }

    private static ulong SplitMix(ref ulong state)
    {
        ulong z = state += 0x9E37_79B9_7F4A_7C15;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB;
        return z ^ (z >> 31);
    }

    /// <summary>A stable string hash (string.GetHashCode changes from run to run).</summary>
    private static ulong Fnv1a(string s)
    {
        ulong h = 0xCBF2_9CE4_8422_2325;
        foreach (char c in s)
        {
            h = (h ^ c) * 0x0000_0100_0000_01B3;
        }
        return h;
    }
}
