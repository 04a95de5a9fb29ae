using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sluice.Engine.Kernels.Gemm;

/// <summary>
/// F16 weights times activations rounded to halves, for any number of tokens. The recipe for one
/// (row, token), which every path here follows exactly:
/// <code>
/// acc = 0
/// for i in 0..K-1 in order:
///     acc = fma(w[i], x[i], acc)
/// </code>
/// One FMA chain per (row, token), so the kernels put rows in the vector lanes instead of columns:
/// a matrix is repacked once into groups of 16 rows, column by column (the 16 rows' halves of column
/// i side by side, 32 bytes), and a 512-bit register holds one column of a group. Each column is
/// widened once and multiplied into every token of a tile (its value broadcast), with no horizontal
/// reduction at the end. Tokens come in tiles (<see cref="TileWidth"/>) stored column-interleaved,
/// so a tile's values for column i lie together. On Zen 4 this runs at the FMA peak (one 16-wide FMA
/// per cycle) where the column-in-lanes tiles, which reduce and widen per 4x4 tile, ran at ~75 %.
/// <para>
/// Halves widen in three ops to w * 2^-112 (<see cref="HalfVectors.FiniteToScaledFloat(Vector256{short})"/>)
/// against activations times 2^112: the product of the scaled pair is the same exact product, so the
/// FMA rounds the same value. That needs finite halves, so a matrix holding an infinity or NaN is not
/// packed and takes <see cref="Dot"/>, which gives the same results. Columns holding a subnormal half
/// (marked at packing, <see cref="MarkSubnormalColumns"/>) are widened exactly against unscaled activations
/// instead, because a float denormal operand slows an Intel FMA about 25 times.
/// </para>
/// </summary>
internal static unsafe class F16Kernels
{
    /// <summary>Bytes one 16-row group takes per column once packed.</summary>
    public const int PackedBlockBytes = 32;

    /// <summary>The recipe for one row and one token (x rounded to halves, not scaled), any instruction set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(byte* row, float* x, int k)
    {
        ushort* w = (ushort*)row;
        float acc = 0;
        for (int i = 0; i < k; i++)
        {
            acc = MathF.FusedMultiplyAdd(HalfTable.ToFloat(w[i]), x[i], acc);
        }
        return acc;
    }

    /// <summary>
    /// Packs group g (rows 16g..16g+15, or the last 16 rows for a last partial group) of an F16 matrix
    /// of at least 16 rows: for each column, the 16 rows' halves in row order. False (leaving
    /// <paramref name="dst"/> partly written) if a value is an infinity or NaN.
    /// </summary>
    public static bool PackGroup(byte* w, long rb, int rows, int columns, int g, byte* dst)
    {
        int first = PackedGroups.FirstRow(g, rows);
        ushort* target = (ushort*)(dst + (long)g * columns * PackedBlockBytes);
        ushort* r0 = (ushort*)(w + first * rb);
        long stride = rb / 2;
        int c = 0;
        if (Sse2.IsSupported)
        {
            // 8 columns at a time: two 8 x 8 transposes (rows 0-7, rows 8-15) with unpacks
            var exponent = Vector128.Create((ushort)0x7C00);
            var nonFinite = Vector128<ushort>.Zero;
            for (; c + 8 <= columns; c += 8)
            {
                for (int half = 0; half < 2; half++)
                {
                    ushort* p = r0 + 8 * half * stride + c;
                    var a0 = Vector128.Load(p);
                    var a1 = Vector128.Load(p + stride);
                    var a2 = Vector128.Load(p + 2 * stride);
                    var a3 = Vector128.Load(p + 3 * stride);
                    var a4 = Vector128.Load(p + 4 * stride);
                    var a5 = Vector128.Load(p + 5 * stride);
                    var a6 = Vector128.Load(p + 6 * stride);
                    var a7 = Vector128.Load(p + 7 * stride);
                    nonFinite |= Vector128.Equals(a0 & exponent, exponent) | Vector128.Equals(a1 & exponent, exponent) | Vector128.Equals(a2 & exponent, exponent) | Vector128.Equals(a3 & exponent, exponent)
                        | Vector128.Equals(a4 & exponent, exponent) | Vector128.Equals(a5 & exponent, exponent)
                        | Vector128.Equals(a6 & exponent, exponent) | Vector128.Equals(a7 & exponent, exponent);
                    var b0 = Sse2.UnpackLow(a0, a1);
                    var b1 = Sse2.UnpackHigh(a0, a1);
                    var b2 = Sse2.UnpackLow(a2, a3);
                    var b3 = Sse2.UnpackHigh(a2, a3);
                    var b4 = Sse2.UnpackLow(a4, a5);
                    var b5 = Sse2.UnpackHigh(a4, a5);
                    var b6 = Sse2.UnpackLow(a6, a7);
                    var b7 = Sse2.UnpackHigh(a6, a7);
                    var c0 = Sse2.UnpackLow(b0.AsUInt32(), b2.AsUInt32());
                    var c1 = Sse2.UnpackHigh(b0.AsUInt32(), b2.AsUInt32());
                    var c2 = Sse2.UnpackLow(b1.AsUInt32(), b3.AsUInt32());
                    var c3 = Sse2.UnpackHigh(b1.AsUInt32(), b3.AsUInt32());
                    var c4 = Sse2.UnpackLow(b4.AsUInt32(), b6.AsUInt32());
                    var c5 = Sse2.UnpackHigh(b4.AsUInt32(), b6.AsUInt32());
                    var c6 = Sse2.UnpackLow(b5.AsUInt32(), b7.AsUInt32());
                    var c7 = Sse2.UnpackHigh(b5.AsUInt32(), b7.AsUInt32());
                    ushort* t = target + (long)c * 16 + 8 * half;
                    Sse2.UnpackLow(c0.AsUInt64(), c4.AsUInt64()).Store((ulong*)t);
                    Sse2.UnpackHigh(c0.AsUInt64(), c4.AsUInt64()).Store((ulong*)(t + 16));
                    Sse2.UnpackLow(c1.AsUInt64(), c5.AsUInt64()).Store((ulong*)(t + 32));
                    Sse2.UnpackHigh(c1.AsUInt64(), c5.AsUInt64()).Store((ulong*)(t + 48));
                    Sse2.UnpackLow(c2.AsUInt64(), c6.AsUInt64()).Store((ulong*)(t + 64));
                    Sse2.UnpackHigh(c2.AsUInt64(), c6.AsUInt64()).Store((ulong*)(t + 80));
                    Sse2.UnpackLow(c3.AsUInt64(), c7.AsUInt64()).Store((ulong*)(t + 96));
                    Sse2.UnpackHigh(c3.AsUInt64(), c7.AsUInt64()).Store((ulong*)(t + 112));
                }
            }
            if (nonFinite != Vector128<ushort>.Zero)
            {
                return false;
            }
        }
        for (; c < columns; c++)
        {
            for (int r = 0; r < 16; r++)
            {
                ushort h = r0[r * stride + c];
                if ((h & 0x7C00) == 0x7C00)
                {
                    return false;
                }
                target[(long)c * 16 + r] = h;
            }
        }
        return true;
    }

    /// <summary>
    /// Width of the token tile that starts where <paramref name="remaining"/> tokens are left: tiles of 16,
    /// then one each of 8, 4, 2 and 1 as the rest needs. A tile of width T starting at token t0 holds
    /// x[t0 + j][i] * 2^112 at t0 * K + i * T + j.
    /// </summary>
    public static int TileWidth(int remaining) =>
        remaining >= 16 ? 16 : remaining >= 8 ? 8 : remaining >= 4 ? 4 : remaining >= 2 ? 2 : 1;

    /// <summary>Token tiles of <paramref name="n"/> tokens.</summary>
    public static int TileCount(int n) => n / 16 + BitOperations.PopCount((uint)(n % 16));

    /// <summary>Tile <paramref name="index"/> of <paramref name="n"/> tokens: its first token and width.</summary>
    public static (int Start, int Width) Tile(int index, int n)
    {
        int start = 16 * Math.Min(index, n / 16);
        for (int i = n / 16; i < index; i++)
        {
            start += TileWidth(n - start);
        }
        return (start, TileWidth(n - start));
    }

    /// <summary>
    /// Writes <paramref name="width"/> rows of <paramref name="k"/> values (already rounded to halves) as
    /// one token tile, times 2^112.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Interleave(float* x, int k, int width, float* tile)
    {
        // 16 columns at a time, so the lines being written stay in L1 while every row is read in order
        for (int i0 = 0; i0 < k; i0 += 16)
        {
            int i1 = Math.Min(k, i0 + 16);
            for (int j = 0; j < width; j++)
            {
                float* row = x + (long)j * k;
                for (int i = i0; i < i1; i++)
                {
                    tile[(long)i * width + j] = row[i] * HalfVectors.Two112;
                }
            }
        }
    }

    /// <summary>Groups the AVX-512 kernel for a tile of <paramref name="width"/> tokens takes at once (enough independent FMA chains).</summary>
    public static int GroupsPerCall(int width) => width >= 8 ? 1 : width == 4 ? 2 : 4;

    /// <summary>
    /// Groups times one token tile (AVX-512): <see cref="GroupsPerCall"/> groups of 16 rows,
    /// <paramref name="groupBytes"/> apart (their subnormal-column bits <paramref name="flagWords"/> words apart),
    /// times the <paramref name="width"/> tokens of the tile at <paramref name="x"/>. Token j's results for group
    /// gi go to y + j * yStride + gi * yGroup. groupBytes = flagWords = yGroup = 0 computes one group several
    /// times and writes it to one place (for a group left over at the end of a run). A column marked in any of
    /// the groups (<see cref="MarkSubnormalColumns"/>) is widened exactly for all of them and multiplied by the
    /// unscaled activations: the same products, so the same results.
    /// </summary>
    public static void Tile(int width, byte* group, long groupBytes, ulong* flags, int flagWords, int k, float* x, float* y, long yStride, int yGroup)
    {
        switch (width)
        {
            case 16: Tokens16((short*)group, flags, k, x, y, yStride); break;
            case 8: Tokens8((short*)group, flags, k, x, y, yStride); break;
            case 4: Tokens4((short*)group, groupBytes / 2, flags, flagWords, k, x, y, yStride, yGroup); break;
            case 2: Tokens2((short*)group, groupBytes / 2, flags, flagWords, k, x, y, yStride, yGroup); break;
            default: Tokens1((short*)group, groupBytes / 2, flags, flagWords, k, x, y, yGroup); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Column(short* p, bool exact) =>
        exact ? HalfVectors.ExactToFloat(Vector256.Load(p)) : HalfVectors.FiniteToScaledFloat(Vector256.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Mac(Vector512<float> w, float* x, Vector512<float> acc) =>
        Avx512F.FusedMultiplyAdd(w, Vector512.Create(*x), acc);

    // the column's activations: the tile's (scaled), or unscaled into `to` when the column is widened exactly
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Activations(bool exact, float* x, float* to, int count)
    {
        if (!exact)
        {
            return x;
        }
        Unscale(x, to, count);
        return to;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tokens16(short* g, ulong* flags, int k, float* x, float* y, long ys)
    {
        float* unscaled = stackalloc float[16];
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        Vector512<float> c8 = default, c9 = default, c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default;
        for (int i = 0; i < k; i++, g += 16, x += 16)
        {
            bool exact = Marked(flags, i);
            var w = Column(g, exact);
            float* xp = Activations(exact, x, unscaled, 16);
            c0 = Mac(w, xp, c0); c1 = Mac(w, xp + 1, c1); c2 = Mac(w, xp + 2, c2); c3 = Mac(w, xp + 3, c3);
            c4 = Mac(w, xp + 4, c4); c5 = Mac(w, xp + 5, c5); c6 = Mac(w, xp + 6, c6); c7 = Mac(w, xp + 7, c7);
            c8 = Mac(w, xp + 8, c8); c9 = Mac(w, xp + 9, c9); c10 = Mac(w, xp + 10, c10); c11 = Mac(w, xp + 11, c11);
            c12 = Mac(w, xp + 12, c12); c13 = Mac(w, xp + 13, c13); c14 = Mac(w, xp + 14, c14); c15 = Mac(w, xp + 15, c15);
        }
        c0.Store(y); c1.Store(y + ys); c2.Store(y + 2 * ys); c3.Store(y + 3 * ys);
        c4.Store(y + 4 * ys); c5.Store(y + 5 * ys); c6.Store(y + 6 * ys); c7.Store(y + 7 * ys);
        c8.Store(y + 8 * ys); c9.Store(y + 9 * ys); c10.Store(y + 10 * ys); c11.Store(y + 11 * ys);
        c12.Store(y + 12 * ys); c13.Store(y + 13 * ys); c14.Store(y + 14 * ys); c15.Store(y + 15 * ys);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tokens8(short* g, ulong* flags, int k, float* x, float* y, long ys)
    {
        float* unscaled = stackalloc float[8];
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (int i = 0; i < k; i++, g += 16, x += 8)
        {
            bool exact = Marked(flags, i);
            var w = Column(g, exact);
            float* xp = Activations(exact, x, unscaled, 8);
            c0 = Mac(w, xp, c0); c1 = Mac(w, xp + 1, c1); c2 = Mac(w, xp + 2, c2); c3 = Mac(w, xp + 3, c3);
            c4 = Mac(w, xp + 4, c4); c5 = Mac(w, xp + 5, c5); c6 = Mac(w, xp + 6, c6); c7 = Mac(w, xp + 7, c7);
        }
        c0.Store(y); c1.Store(y + ys); c2.Store(y + 2 * ys); c3.Store(y + 3 * ys);
        c4.Store(y + 4 * ys); c5.Store(y + 5 * ys); c6.Store(y + 6 * ys); c7.Store(y + 7 * ys);
    }

    // two groups x four tokens
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tokens4(short* g, long gs, ulong* flags, int fw, int k, float* x, float* y, long ys, int yg)
    {
        float* unscaled = stackalloc float[4];
        short* h = g + gs;
        ulong* f1 = flags + fw;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, d0 = default, d1 = default, d2 = default, d3 = default;
        for (int i = 0; i < k; i++, g += 16, h += 16, x += 4)
        {
            bool exact = Marked(flags, i) || Marked(f1, i);
            var w = Column(g, exact);
            var v = Column(h, exact);
            float* xp = Activations(exact, x, unscaled, 4);
            c0 = Mac(w, xp, c0); c1 = Mac(w, xp + 1, c1); c2 = Mac(w, xp + 2, c2); c3 = Mac(w, xp + 3, c3);
            d0 = Mac(v, xp, d0); d1 = Mac(v, xp + 1, d1); d2 = Mac(v, xp + 2, d2); d3 = Mac(v, xp + 3, d3);
        }
        c0.Store(y); c1.Store(y + ys); c2.Store(y + 2 * ys); c3.Store(y + 3 * ys);
        y += yg;
        d0.Store(y); d1.Store(y + ys); d2.Store(y + 2 * ys); d3.Store(y + 3 * ys);
    }

    // four groups x two tokens
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tokens2(short* g0, long gs, ulong* flags, int fw, int k, float* x, float* y, long ys, int yg)
    {
        float* unscaled = stackalloc float[2];
        short* g1 = g0 + gs, g2 = g1 + gs, g3 = g2 + gs;
        ulong* f1 = flags + fw, f2 = f1 + fw, f3 = f2 + fw;
        Vector512<float> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
        for (int i = 0; i < k; i++, g0 += 16, g1 += 16, g2 += 16, g3 += 16, x += 2)
        {
            bool exact = Marked(flags, i) || Marked(f1, i) || Marked(f2, i) || Marked(f3, i);
            float* xp = Activations(exact, x, unscaled, 2);
            var w = Column(g0, exact);
            a0 = Mac(w, xp, a0); a1 = Mac(w, xp + 1, a1);
            w = Column(g1, exact);
            b0 = Mac(w, xp, b0); b1 = Mac(w, xp + 1, b1);
            w = Column(g2, exact);
            c0 = Mac(w, xp, c0); c1 = Mac(w, xp + 1, c1);
            w = Column(g3, exact);
            d0 = Mac(w, xp, d0); d1 = Mac(w, xp + 1, d1);
        }
        a0.Store(y); a1.Store(y + ys);
        b0.Store(y + yg); b1.Store(y + yg + ys);
        c0.Store(y + 2 * yg); c1.Store(y + 2 * yg + ys);
        d0.Store(y + 3 * yg); d1.Store(y + 3 * yg + ys);
    }

    // four groups x one token: decode, four sequential streams
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tokens1(short* g0, long gs, ulong* flags, int fw, int k, float* x, float* y, int yg)
    {
        short* g1 = g0 + gs, g2 = g1 + gs, g3 = g2 + gs;
        ulong* f1 = flags + fw, f2 = f1 + fw, f3 = f2 + fw;
        Vector512<float> a = default, b = default, c = default, d = default;
        for (int i0 = 0; i0 < k; i0 += 64)
        {
            int word = i0 >> 6;
            ulong marked = flags[word] | f1[word] | f2[word] | f3[word];
            int i1 = Math.Min(k, i0 + 64);
            for (int i = i0; i < i1; i++, g0 += 16, g1 += 16, g2 += 16, g3 += 16)
            {
                bool exact = ((marked >> i) & 1) != 0;
                var xv = Vector512.Create(exact ? x[i] * TwoMinus112 : x[i]);
                a = Avx512F.FusedMultiplyAdd(Column(g0, exact), xv, a);
                b = Avx512F.FusedMultiplyAdd(Column(g1, exact), xv, b);
                c = Avx512F.FusedMultiplyAdd(Column(g2, exact), xv, c);
                d = Avx512F.FusedMultiplyAdd(Column(g3, exact), xv, d);
            }
        }
        a.Store(y);
        b.Store(y + yg);
        c.Store(y + 2 * yg);
        d.Store(y + 3 * yg);
    }

    /// <summary>2^-112: a tile value times this is the activation rounded to a half, unscaled (exactly).</summary>
    private const float TwoMinus112 = 1.925929944387236e-34f;

    /// <summary>
    /// Sets bit i of group g's run of (k + 63) / 64 words at <paramref name="flags"/> where column i of packed
    /// group g holds a subnormal half (exponent 0, mantissa not 0). Scaled by 2^-112 such a half is a float
    /// denormal, and an FMA with a denormal operand takes a microcode assist on Intel cores (about 25 times
    /// slower; AMD's take none), so the AVX2 kernels widen those columns exactly instead.
    /// </summary>
    public static void MarkSubnormalColumns(byte* packed, int groups, int k, ulong* flags)
    {
        int words = (k + 63) / 64;
        ushort* p = (ushort*)packed;
        for (int g = 0; g < groups; g++)
        {
            ulong* f = flags + (long)g * words;
            for (int w = 0; w < words; w++)
            {
                f[w] = 0;
            }
            for (int i = 0; i < k; i++, p += 16)
            {
                for (int r = 0; r < 16; r++)
                {
                    if ((p[r] & 0x7C00) == 0 && (p[r] & 0x03FF) != 0)
                    {
                        f[i >> 6] |= 1UL << i;
                        break;
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Marked(ulong* flags, int i) => ((flags[i >> 6] >> i) & 1) != 0;

    /// <summary>
    /// One group times a run of tokens of a tile (AVX2): <paramref name="tokens"/> (4 or 1) tokens starting
    /// at <paramref name="x"/>, where a column's values of the tile are <paramref name="xStride"/> floats apart.
    /// Columns marked in <paramref name="flags"/> (<see cref="MarkSubnormalColumns"/>) are widened exactly and
    /// multiplied by the unscaled activations: the same products, so the same results.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx2Tile(int tokens, byte* group, ulong* flags, int k, float* x, int xStride, float* y, long ys)
    {
        short* g = (short*)group;
        float* unscaled = stackalloc float[4];
        if (tokens == 4)
        {
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, d0 = default, d1 = default, d2 = default, d3 = default;
            for (int i = 0; i < k; i++, g += 16, x += xStride)
            {
                Vector256<float> lo, hi;
                float* xp = x;
                if (Marked(flags, i))
                {
                    lo = HalfVectors.ExactToFloat(Vector128.Load(g));
                    hi = HalfVectors.ExactToFloat(Vector128.Load(g + 8));
                    Unscale(x, unscaled, 4);
                    xp = unscaled;
                }
                else
                {
                    lo = Column256(g);
                    hi = Column256(g + 8);
                }
                var b = Vector256.Create(xp[0]);
                c0 = Fma.MultiplyAdd(lo, b, c0); d0 = Fma.MultiplyAdd(hi, b, d0);
                b = Vector256.Create(xp[1]);
                c1 = Fma.MultiplyAdd(lo, b, c1); d1 = Fma.MultiplyAdd(hi, b, d1);
                b = Vector256.Create(xp[2]);
                c2 = Fma.MultiplyAdd(lo, b, c2); d2 = Fma.MultiplyAdd(hi, b, d2);
                b = Vector256.Create(xp[3]);
                c3 = Fma.MultiplyAdd(lo, b, c3); d3 = Fma.MultiplyAdd(hi, b, d3);
            }
            c0.Store(y); d0.Store(y + 8);
            c1.Store(y + ys); d1.Store(y + ys + 8);
            c2.Store(y + 2 * ys); d2.Store(y + 2 * ys + 8);
            c3.Store(y + 3 * ys); d3.Store(y + 3 * ys + 8);
            return;
        }
        Vector256<float> c = default, d = default;
        for (int i = 0; i < k; i++, g += 16, x += xStride)
        {
            if (Marked(flags, i))
            {
                var u = Vector256.Create(x[0] * TwoMinus112);
                c = Fma.MultiplyAdd(HalfVectors.ExactToFloat(Vector128.Load(g)), u, c);
                d = Fma.MultiplyAdd(HalfVectors.ExactToFloat(Vector128.Load(g + 8)), u, d);
                continue;
            }
            var b = Vector256.Create(x[0]);
            c = Fma.MultiplyAdd(Column256(g), b, c);
            d = Fma.MultiplyAdd(Column256(g + 8), b, d);
        }
        c.Store(y);
        d.Store(y + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Unscale(float* x, float* to, int count)
    {
        for (int j = 0; j < count; j++)
        {
            to[j] = x[j] * TwoMinus112;
        }
    }

    /// <summary>
    /// Four groups, <paramref name="groupBytes"/> apart (their flags <paramref name="flagWords"/> apart), times one
    /// token (AVX2; decode): eight independent FMA chains where one group has two. Group gi's results go to
    /// y + gi * <paramref name="yGroup"/>. A column marked in any of the four groups takes the exact widening for all four.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx2Groups4(byte* group, long groupBytes, ulong* flags, int flagWords, int k, float* x, float* y, int yGroup)
    {
        short* g0 = (short*)group;
        long gs = groupBytes / 2;
        short* g1 = g0 + gs, g2 = g1 + gs, g3 = g2 + gs;
        ulong* f1 = flags + flagWords, f2 = f1 + flagWords, f3 = f2 + flagWords;
        Vector256<float> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
        for (int i0 = 0; i0 < k; i0 += 64)
        {
            int word = i0 >> 6;
            ulong marked = flags[word] | f1[word] | f2[word] | f3[word];
            int i1 = Math.Min(k, i0 + 64);
            for (int i = i0; i < i1; i++, g0 += 16, g1 += 16, g2 += 16, g3 += 16)
            {
                if (((marked >> i) & 1) != 0)
                {
                    var u = Vector256.Create(x[i] * TwoMinus112);
                    a0 = Fma.MultiplyAdd(HalfVectors.ExactToFloat(Vector128.Load(g0)), u, a0); a1 = Fma.MultiplyAdd(HalfVectors.ExactToFloat(Vector128.Load(g0 + 8)), u, a1);
                    b0 = Fma.MultiplyAdd(HalfVectors.ExactToFloat(Vector128.Load(g1)), u, b0); b1 = Fma.MultiplyAdd(HalfVectors.ExactToFloat(Vector128.Load(g1 + 8)), u, b1);
                    c0 = Fma.MultiplyAdd(HalfVectors.ExactToFloat(Vector128.Load(g2)), u, c0); c1 = Fma.MultiplyAdd(HalfVectors.ExactToFloat(Vector128.Load(g2 + 8)), u, c1);
                    d0 = Fma.MultiplyAdd(HalfVectors.ExactToFloat(Vector128.Load(g3)), u, d0); d1 = Fma.MultiplyAdd(HalfVectors.ExactToFloat(Vector128.Load(g3 + 8)), u, d1);
                    continue;
                }
                var xv = Vector256.Create(x[i]);
                a0 = Fma.MultiplyAdd(Column256(g0), xv, a0); a1 = Fma.MultiplyAdd(Column256(g0 + 8), xv, a1);
                b0 = Fma.MultiplyAdd(Column256(g1), xv, b0); b1 = Fma.MultiplyAdd(Column256(g1 + 8), xv, b1);
                c0 = Fma.MultiplyAdd(Column256(g2), xv, c0); c1 = Fma.MultiplyAdd(Column256(g2 + 8), xv, c1);
                d0 = Fma.MultiplyAdd(Column256(g3), xv, d0); d1 = Fma.MultiplyAdd(Column256(g3 + 8), xv, d1);
            }
        }
        a0.Store(y); a1.Store(y + 8);
        b0.Store(y + yGroup); b1.Store(y + yGroup + 8);
        c0.Store(y + 2 * yGroup); c1.Store(y + 2 * yGroup + 8);
        d0.Store(y + 3 * yGroup); d1.Store(y + 3 * yGroup + 8);
    }

    /// <summary>
    /// Widens a packed group's <paramref name="k"/> columns to floats (16 per column, the layout of the group) for
    /// <see cref="Avx2WideTile"/> to reuse across every token tile: scaled by 2^-112, except the columns marked in
    /// <paramref name="flags"/>, which are widened exactly (unscaled).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WidenGroup(byte* group, ulong* flags, int k, float* dst)
    {
        short* g = (short*)group;
        for (int i = 0; i < k; i++, g += 16, dst += 16)
        {
            if (Marked(flags, i))
            {
                HalfVectors.ExactToFloat(Vector128.Load(g)).Store(dst);
                HalfVectors.ExactToFloat(Vector128.Load(g + 8)).Store(dst + 8);
                continue;
            }
            Column256(g).Store(dst);
            Column256(g + 8).Store(dst + 8);
        }
    }

    /// <summary>
    /// One widened group (<see cref="WidenGroup"/>) times a run of 6, 4 or 1 tokens of a tile (AVX2), as
    /// <see cref="Avx2Tile"/> computes them: the same products in the same FMA order, so the same results.
    /// With the widening done once per group, a column costs two loads and one broadcast per token; six tokens
    /// keep twelve FMA chains in flight (every ymm register but three).
    /// </summary>
    public static void Avx2WideTile(int tokens, float* w, ulong* flags, int k, float* x, int xStride, float* y, long ys)
    {
        switch (tokens)
        {
            case 6: Wide6(w, flags, k, x, xStride, y, ys); break;
            case 4: Wide4(w, flags, k, x, xStride, y, ys); break;
            default: Wide1(w, flags, k, x, xStride, y); break;
        }
    }

    /// <summary>Tokens of a tile of <paramref name="width"/> each <see cref="Avx2WideTile"/> call takes, starting at token <paramref name="j"/>.</summary>
    public static int Avx2WideRun(int width, int j) => width - j >= 6 && width - j != 8 ? 6 : width - j >= 4 ? 4 : 1;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Wide6(float* w, ulong* flags, int k, float* x, int xs, float* y, long ys)
    {
        float* unscaled = stackalloc float[6];
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        Vector256<float> d0 = default, d1 = default, d2 = default, d3 = default, d4 = default, d5 = default;
        for (int i = 0; i < k; i++, w += 16, x += xs)
        {
            float* xp = x;
            if (Marked(flags, i))
            {
                Unscale(x, unscaled, 6);
                xp = unscaled;
            }
            var lo = Vector256.Load(w);
            var hi = Vector256.Load(w + 8);
            var b = Vector256.Create(xp[0]);
            c0 = Fma.MultiplyAdd(lo, b, c0); d0 = Fma.MultiplyAdd(hi, b, d0);
            b = Vector256.Create(xp[1]);
            c1 = Fma.MultiplyAdd(lo, b, c1); d1 = Fma.MultiplyAdd(hi, b, d1);
            b = Vector256.Create(xp[2]);
            c2 = Fma.MultiplyAdd(lo, b, c2); d2 = Fma.MultiplyAdd(hi, b, d2);
            b = Vector256.Create(xp[3]);
            c3 = Fma.MultiplyAdd(lo, b, c3); d3 = Fma.MultiplyAdd(hi, b, d3);
            b = Vector256.Create(xp[4]);
            c4 = Fma.MultiplyAdd(lo, b, c4); d4 = Fma.MultiplyAdd(hi, b, d4);
            b = Vector256.Create(xp[5]);
            c5 = Fma.MultiplyAdd(lo, b, c5); d5 = Fma.MultiplyAdd(hi, b, d5);
        }
        c0.Store(y); d0.Store(y + 8);
        c1.Store(y + ys); d1.Store(y + ys + 8);
        c2.Store(y + 2 * ys); d2.Store(y + 2 * ys + 8);
        c3.Store(y + 3 * ys); d3.Store(y + 3 * ys + 8);
        c4.Store(y + 4 * ys); d4.Store(y + 4 * ys + 8);
        c5.Store(y + 5 * ys); d5.Store(y + 5 * ys + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Wide4(float* w, ulong* flags, int k, float* x, int xs, float* y, long ys)
    {
        float* unscaled = stackalloc float[4];
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, d0 = default, d1 = default, d2 = default, d3 = default;
        for (int i = 0; i < k; i++, w += 16, x += xs)
        {
            float* xp = x;
            if (Marked(flags, i))
            {
                Unscale(x, unscaled, 4);
                xp = unscaled;
            }
            var lo = Vector256.Load(w);
            var hi = Vector256.Load(w + 8);
            var b = Vector256.Create(xp[0]);
            c0 = Fma.MultiplyAdd(lo, b, c0); d0 = Fma.MultiplyAdd(hi, b, d0);
            b = Vector256.Create(xp[1]);
            c1 = Fma.MultiplyAdd(lo, b, c1); d1 = Fma.MultiplyAdd(hi, b, d1);
            b = Vector256.Create(xp[2]);
            c2 = Fma.MultiplyAdd(lo, b, c2); d2 = Fma.MultiplyAdd(hi, b, d2);
            b = Vector256.Create(xp[3]);
            c3 = Fma.MultiplyAdd(lo, b, c3); d3 = Fma.MultiplyAdd(hi, b, d3);
        }
        c0.Store(y); d0.Store(y + 8);
        c1.Store(y + ys); d1.Store(y + ys + 8);
        c2.Store(y + 2 * ys); d2.Store(y + 2 * ys + 8);
        c3.Store(y + 3 * ys); d3.Store(y + 3 * ys + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Wide1(float* w, ulong* flags, int k, float* x, int xs, float* y)
    {
        Vector256<float> c = default, d = default;
        for (int i = 0; i < k; i++, w += 16, x += xs)
        {
            var b = Vector256.Create(Marked(flags, i) ? x[0] * TwoMinus112 : x[0]);
            c = Fma.MultiplyAdd(Vector256.Load(w), b, c);
            d = Fma.MultiplyAdd(Vector256.Load(w + 8), b, d);
        }
        c.Store(y);
        d.Store(y + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Column256(short* p) => HalfVectors.FiniteToScaledFloat(Vector128.Load(p));
}
