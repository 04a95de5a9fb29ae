using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Sluice.Engine.Caching;
using Sluice.Engine.Kernels.Gemm;
using Sluice.Engine.Quantization;
using Sluice.Engine.Quantization.Codecs;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Kernels;

/// <summary>
/// Causal attention of a ragged batch over the paged KV cache. One work item is one KV head and a tile
/// of up to <see cref="TileTokens"/> consecutive tokens of one sequence: each key and value block is
/// read (and widened from F16 or Q8_0) once for all the tile's tokens and the query heads that share the
/// KV head (GQA). Softmax is computed online block by block (running max and sum), so no score buffer
/// the size of the context is needed. Every (token, head) follows the same steps over the same blocks
/// whatever tile it is in, so results do not depend on the batch.
/// </summary>
public sealed unsafe class Attention : IParallelWork
{
    /// <summary>Most tokens one work item takes.</summary>
    public const int TileTokens = 16;

    private PagedKvCache _cache = null!;
    private int _layer;
    private float* _q;     // (n, heads, headDim)
    private float* _out;   // (n, heads, headDim)
    private int[] _positions = [];      // (n,)
    private int[][] _blockTables = [];  // per token: its sequence's block table
    private int[] _tileStarts = new int[64];  // tile i: tokens _tileStarts[i] .. _tileStarts[i + 1]
    private int _tiles;
    private int _heads;
    private float _scale;

    public void Run(WorkerPool pool, PagedKvCache cache, int layer, float* q, float* output, int n, int heads,
        int[] positions, int[][] blockTables)
    {
        _cache = cache;
        _layer = layer;
        _q = q;
        _out = output;
        _positions = positions;
        _blockTables = blockTables;
        _heads = heads;
        _scale = 1f / MathF.Sqrt(cache.HeadDim);
        // a tile: consecutive positions of one sequence (one block table), at most TileTokens
        if (_tileStarts.Length < n + 1)
        {
            _tileStarts = new int[n + 1];
        }
        _tiles = 0;
        for (int t = 0; t < n; t++)
        {
            if (t == 0 || t - _tileStarts[_tiles - 1] == TileTokens || blockTables[t] != blockTables[t - 1] || positions[t] != positions[t - 1] + 1)
            {
                _tileStarts[_tiles++] = t;
            }
        }
        _tileStarts[_tiles] = n;
        pool.Run(this, _tiles * cache.KvHeads);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int index)
    {
        int kvHeads = _cache.KvHeads;
        // last tiles first: they see the longest contexts, and the pool hands out items in order
        int tile = _tiles - 1 - index / kvHeads;
        int kvh = index % kvHeads;
        int t0 = _tileStarts[tile], t1 = _tileStarts[tile + 1];
        int group = _heads / kvHeads;
        int hd = _cache.HeadDim;
        int bs = _cache.BlockSize;
        int[] table = _blockTables[t0];
        var kvType = _cache.Type;
        bool f16 = kvType != KvCacheType.F32;

        // per (token, query head): running max, running sum; output accumulators are the output rows
        int states = (t1 - t0) * group;
        Span<float> maxes = states <= StackFloats ? stackalloc float[states] : new float[states];
        Span<float> sums = states <= StackFloats ? stackalloc float[states] : new float[states];
        // room for a whole last vector (ExpShifted)
        int scoreFloats = (bs + 15) / 16 * 16;
        // an F16 or Q8_0 block's keys and values widened once for the whole tile: on the stack when they are
        // small (always, for real models), else pinned on the heap (a stack overflow would end the process)
        int widened = f16 ? bs * hd : 0;
        float[]? heapScores = scoreFloats <= StackFloats ? null : GC.AllocateUninitializedArray<float>(scoreFloats, pinned: true);
        float[]? heapKeys = widened <= StackFloats ? null : GC.AllocateUninitializedArray<float>(widened, pinned: true);
        float[]? heapValues = widened <= StackFloats ? null : GC.AllocateUninitializedArray<float>(widened, pinned: true);
        Span<float> scoreSpan = heapScores is null ? stackalloc float[scoreFloats] : heapScores;
        Span<float> keySpan = heapKeys is null ? stackalloc float[widened] : heapKeys;
        Span<float> valueSpan = heapValues is null ? stackalloc float[widened] : heapValues;
        // stack memory or arrays on the pinned heap (kept alive to the end): neither moves
        float* scores = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(scoreSpan));
        float* kf = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(keySpan));
        float* vf = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(valueSpan));
        maxes.Fill(float.NegativeInfinity);
        sums.Clear();
        for (int t = t0; t < t1; t++)
        {
            new Span<float>(_out + ((long)t * _heads + kvh * group) * hd, group * hd).Clear();
        }

        // the tile's last token sees the most keys; earlier ones stop sooner
        int ctxAll = _positions[t1 - 1] + 1;
        for (int start = 0; start < ctxAll; start += bs)
        {
            int block = table[start / bs];
            int rows = Math.Min(bs, ctxAll - start);
            // (rows, headDim) rows of this block and head, contiguous in the cache
            float* keys, values;
            if (kvType == KvCacheType.F16)
            {
                Widen((ushort*)_cache.Key(_layer, block, kvh, 0), kf, rows * hd);
                Widen((ushort*)_cache.Value(_layer, block, kvh, 0), vf, rows * hd);
                keys = kf;
                values = vf;
            }
            else if (kvType == KvCacheType.Q8_0)
            {
                // rows of whole Q8_0 blocks follow each other, so a block's rows expand as one run
                RowDequantizer.Dequantize(GgmlType.Q8_0, _cache.Key(_layer, block, kvh, 0), 0, rows * hd, kf);
                RowDequantizer.Dequantize(GgmlType.Q8_0, _cache.Value(_layer, block, kvh, 0), 0, rows * hd, vf);
                keys = kf;
                values = vf;
            }
            else
            {
                keys = (float*)_cache.Key(_layer, block, kvh, 0);
                values = (float*)_cache.Value(_layer, block, kvh, 0);
            }
            for (int t = t0; t < t1; t++)
            {
                int ctx = _positions[t] + 1;
                if (start >= ctx)
                {
                    continue;
                }
                int count = Math.Min(bs, ctx - start);
                long row = (long)t * _heads + kvh * group;
                int state = (t - t0) * group;
                for (int g = 0; g < group; g++)
                {
                    Update(_q + (row + g) * hd, _out + (row + g) * hd, keys, values, count, hd, scores,
                        ref maxes[state + g], ref sums[state + g]);
                }
            }
        }
        for (int t = t0; t < t1; t++)
        {
            long row = (long)t * _heads + kvh * group;
            int state = (t - t0) * group;
            for (int g = 0; g < group; g++)
            {
                Scale(_out + (row + g) * hd, hd, 1f / sums[state + g]);
            }
        }
        GC.KeepAlive(heapScores);
        GC.KeepAlive(heapKeys);
        GC.KeepAlive(heapValues);
    }

    /// <summary>Most floats one of Execute's buffers takes on the stack (64 KiB; 16-token blocks of 128-wide heads use 2048).</summary>
    private const int StackFloats = 16 * 1024;

    // one query head's running softmax and output over the next `count` keys and values
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Update(float* q, float* o, float* keys, float* values, int count, int hd, float* scores, ref float max, ref float sum)
    {
        if (Simd.Use512 && hd == 64)
        {
            Update64(q, o, keys, values, count, scores, ref max, ref sum);
            return;
        }
        if (Simd.Use256 && hd == 64)
        {
            Update64Avx2(q, o, keys, values, count, scores, ref max, ref sum);
            return;
        }
        float blockMax = float.NegativeInfinity;
        for (int j = 0; j < count; j++)
        {
            float sc = FloatDot.F32(keys + j * hd, q, hd) * _scale;
            scores[j] = sc;
            blockMax = MathF.Max(blockMax, sc);
        }
        float newMax = MathF.Max(max, blockMax);
        float correction = MathF.Exp(max - newMax);
        if (correction != 1f)
        {
            Scale(o, hd, correction);
        }
        float s = sum * correction;
        ExpShifted(scores, count, newMax);
        for (int j = 0; j < count; j++)
        {
            s += scores[j];
            Axpy(o, values + j * hd, scores[j], hd);
        }
        sum = s;
        max = newMax;
    }

    // Update for 64-wide heads on AVX-512: the query and the output row held in registers across the block; 16 keys'
    // products summed across their lanes by one transposing tree (no horizontal sum per key), and the value sums in
    // two interleaved sets of accumulators (so the 16 FMAs per block are not one dependency chain per register)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Update64(float* q, float* o, float* keys, float* values, int count, float* scores, ref float max, ref float sum)
    {
        var q0 = Vector512.Load(q);
        var q1 = Vector512.Load(q + 16);
        var q2 = Vector512.Load(q + 32);
        var q3 = Vector512.Load(q + 48);
        var scale = Vector512.Create(_scale);
        var blockMax = Vector512.Create(float.NegativeInfinity);
        for (int j0 = 0; j0 < count; j0 += 16)
        {
            float* k = keys + j0 * 64;
            int left = count - j0;
            var r0 = Reduce(Products(k, 0, left, q0, q1, q2, q3), Products(k, 1, left, q0, q1, q2, q3),
                Products(k, 2, left, q0, q1, q2, q3), Products(k, 3, left, q0, q1, q2, q3));
            var r1 = Reduce(Products(k, 4, left, q0, q1, q2, q3), Products(k, 5, left, q0, q1, q2, q3),
                Products(k, 6, left, q0, q1, q2, q3), Products(k, 7, left, q0, q1, q2, q3));
            var r2 = Reduce(Products(k, 8, left, q0, q1, q2, q3), Products(k, 9, left, q0, q1, q2, q3),
                Products(k, 10, left, q0, q1, q2, q3), Products(k, 11, left, q0, q1, q2, q3));
            var r3 = Reduce(Products(k, 12, left, q0, q1, q2, q3), Products(k, 13, left, q0, q1, q2, q3),
                Products(k, 14, left, q0, q1, q2, q3), Products(k, 15, left, q0, q1, q2, q3));
            var sv = AcrossLanes(r0, r1, r2, r3) * scale;
            if (left < 16)
            {
                sv = Vector512.ConditionalSelect(Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(left)).AsSingle(), sv, Vector512.Create(float.NegativeInfinity));
            }
            sv.Store(scores + j0);
            blockMax = Vector512.Max(blockMax, sv);
        }
        float newMax = MathF.Max(max, blockMax.ToScalarMax());
        float c = newMax == max ? 1f : MathF.Exp(max - newMax);
        var correction = Vector512.Create(c);
        var o0 = Vector512.Load(o) * correction;
        var o1 = Vector512.Load(o + 16) * correction;
        var o2 = Vector512.Load(o + 32) * correction;
        var o3 = Vector512.Load(o + 48) * correction;
        ExpShifted(scores, count, newMax);
        var e0 = Vector512<float>.Zero;
        var e1 = Vector512<float>.Zero;
        var e2 = Vector512<float>.Zero;
        var e3 = Vector512<float>.Zero;
        int j = 0;
        for (; j + 2 <= count; j += 2)
        {
            float* v = values + j * 64;
            var p = Vector512.Create(scores[j]);
            var r = Vector512.Create(scores[j + 1]);
            o0 = Simd.Fma512(Vector512.Load(v), p, o0);
            o1 = Simd.Fma512(Vector512.Load(v + 16), p, o1);
            o2 = Simd.Fma512(Vector512.Load(v + 32), p, o2);
            o3 = Simd.Fma512(Vector512.Load(v + 48), p, o3);
            e0 = Simd.Fma512(Vector512.Load(v + 64), r, e0);
            e1 = Simd.Fma512(Vector512.Load(v + 80), r, e1);
            e2 = Simd.Fma512(Vector512.Load(v + 96), r, e2);
            e3 = Simd.Fma512(Vector512.Load(v + 112), r, e3);
        }
        if (j < count)
        {
            float* v = values + j * 64;
            var p = Vector512.Create(scores[j]);
            o0 = Simd.Fma512(Vector512.Load(v), p, o0);
            o1 = Simd.Fma512(Vector512.Load(v + 16), p, o1);
            o2 = Simd.Fma512(Vector512.Load(v + 32), p, o2);
            o3 = Simd.Fma512(Vector512.Load(v + 48), p, o3);
        }
        (o0 + e0).Store(o);
        (o1 + e1).Store(o + 16);
        (o2 + e2).Store(o + 32);
        (o3 + e3).Store(o + 48);
        // lanes past count are 0 after ExpShifted
        var ps = Vector512<float>.Zero;
        for (int j0 = 0; j0 < count; j0 += 16)
        {
            ps += Vector512.Load(scores + j0);
        }
        sum = sum * c + Vector512.Sum(ps);
        max = newMax;
    }

    // Update64 on AVX2: 8 keys at a time, each key's 8 partial sums (two FMA chains over the query's 8 registers)
    // summed across lanes by a vhaddps tree and one cross-lane add (key j's score in lane j); the output row's 8
    // registers take the weighted values with one FMA chain each
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Update64Avx2(float* q, float* o, float* keys, float* values, int count, float* scores, ref float max, ref float sum)
    {
        var scale = Vector256.Create(_scale);
        var blockMax = Vector256.Create(float.NegativeInfinity);
        for (int j0 = 0; j0 < count; j0 += 8)
        {
            float* k = keys + j0 * 64;
            int left = count - j0;
            var h01 = Avx.HorizontalAdd(Products(k, 0, left, q), Products(k, 1, left, q));
            var h23 = Avx.HorizontalAdd(Products(k, 2, left, q), Products(k, 3, left, q));
            var h45 = Avx.HorizontalAdd(Products(k, 4, left, q), Products(k, 5, left, q));
            var h67 = Avx.HorizontalAdd(Products(k, 6, left, q), Products(k, 7, left, q));
            // per 128-bit lane: keys 0..3 (then 4..7) summed over that lane's half of the partial sums
            var low = Avx.HorizontalAdd(h01, h23);
            var high = Avx.HorizontalAdd(h45, h67);
            var sv = (Avx.Permute2x128(low, high, 0x20) + Avx.Permute2x128(low, high, 0x31)) * scale;
            if (left < 8)
            {
                sv = Vector256.ConditionalSelect(Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(left)).AsSingle(), sv, Vector256.Create(float.NegativeInfinity));
            }
            sv.Store(scores + j0);
            blockMax = Vector256.Max(blockMax, sv);
        }
        float newMax = MathF.Max(max, blockMax.ToScalarMax());
        float c = newMax == max ? 1f : MathF.Exp(max - newMax);
        var correction = Vector256.Create(c);
        var o0 = Vector256.Load(o) * correction;
        var o1 = Vector256.Load(o + 8) * correction;
        var o2 = Vector256.Load(o + 16) * correction;
        var o3 = Vector256.Load(o + 24) * correction;
        var o4 = Vector256.Load(o + 32) * correction;
        var o5 = Vector256.Load(o + 40) * correction;
        var o6 = Vector256.Load(o + 48) * correction;
        var o7 = Vector256.Load(o + 56) * correction;
        ExpShifted(scores, count, newMax);
        for (int j = 0; j < count; j++)
        {
            float* v = values + j * 64;
            var p = Vector256.Create(scores[j]);
            o0 = Simd.Fma256(Vector256.Load(v), p, o0);
            o1 = Simd.Fma256(Vector256.Load(v + 8), p, o1);
            o2 = Simd.Fma256(Vector256.Load(v + 16), p, o2);
            o3 = Simd.Fma256(Vector256.Load(v + 24), p, o3);
            o4 = Simd.Fma256(Vector256.Load(v + 32), p, o4);
            o5 = Simd.Fma256(Vector256.Load(v + 40), p, o5);
            o6 = Simd.Fma256(Vector256.Load(v + 48), p, o6);
            o7 = Simd.Fma256(Vector256.Load(v + 56), p, o7);
        }
        o0.Store(o);
        o1.Store(o + 8);
        o2.Store(o + 16);
        o3.Store(o + 24);
        o4.Store(o + 32);
        o5.Store(o + 40);
        o6.Store(o + 48);
        o7.Store(o + 56);
        // lanes past count are 0 after ExpShifted
        var ps = Vector256<float>.Zero;
        for (int j0 = 0; j0 < count; j0 += 8)
        {
            ps += Vector256.Load(scores + j0);
        }
        sum = sum * c + Vector256.Sum(ps);
        max = newMax;
    }

    // key j of 8 times the 64-wide query, 8 partial sums (zero past the block's last key, which is not read)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Products(float* k, int j, int left, float* q)
    {
        if (j >= left)
        {
            return Vector256<float>.Zero;
        }
        k += j * 64;
        var a = Simd.Fma256(Vector256.Load(k + 8), Vector256.Load(q + 8), Vector256.Load(k) * Vector256.Load(q));
        var b = Simd.Fma256(Vector256.Load(k + 24), Vector256.Load(q + 24), Vector256.Load(k + 16) * Vector256.Load(q + 16));
        a = Simd.Fma256(Vector256.Load(k + 40), Vector256.Load(q + 40), Simd.Fma256(Vector256.Load(k + 32), Vector256.Load(q + 32), a));
        b = Simd.Fma256(Vector256.Load(k + 56), Vector256.Load(q + 56), Simd.Fma256(Vector256.Load(k + 48), Vector256.Load(q + 48), b));
        return a + b;
    }

    // key j of 16 times the query, 16 partial sums (zero past the block's last key, which is not read)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Products(float* k, int j, int left, Vector512<float> q0, Vector512<float> q1, Vector512<float> q2, Vector512<float> q3)
    {
        if (j >= left)
        {
            return Vector512<float>.Zero;
        }
        k += j * 64;
        var a = Simd.Fma512(Vector512.Load(k + 32), q2, Vector512.Load(k) * q0);
        var b = Simd.Fma512(Vector512.Load(k + 48), q3, Vector512.Load(k + 16) * q1);
        return a + b;
    }

    // per 128-bit lane, d_p's four values summed into dword p (the float form of PackedGroups.Reduce)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Reduce(Vector512<float> d0, Vector512<float> d1, Vector512<float> d2, Vector512<float> d3) =>
        PairSums(PairSums(d0, d1), PairSums(d2, d3));

    // per 128-bit lane: [a0 + a1, a2 + a3, b0 + b1, b2 + b3]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> PairSums(Vector512<float> a, Vector512<float> b) =>
        Avx512F.Shuffle(a, b, 0b10_00_10_00) + Avx512F.Shuffle(a, b, 0b11_01_11_01);

    // r[i] holds, per 128-bit lane L and dword p, key 4i + p's sum over lane L (Reduce); the result is
    // key j's total in lane j
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> AcrossLanes(Vector512<float> r0, Vector512<float> r1, Vector512<float> r2, Vector512<float> r3)
    {
        var s01 = Avx512F.Shuffle4x128(r0, r1, 0b10_00_10_00) + Avx512F.Shuffle4x128(r0, r1, 0b11_01_11_01);
        var s23 = Avx512F.Shuffle4x128(r2, r3, 0b10_00_10_00) + Avx512F.Shuffle4x128(r2, r3, 0b11_01_11_01);
        return Avx512F.Shuffle4x128(s01, s23, 0b10_00_10_00) + Avx512F.Shuffle4x128(s01, s23, 0b11_01_11_01);
    }

    // s[j] = exp(s[j] - max) for j < count, a vector at a time (s has room up to the next multiple of 16)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ExpShifted(float* s, int count, float max)
    {
        int j = 0;
        if (Simd.Use512)
        {
            var m = Vector512.Create(max);
            for (; j < count; j += 16)
            {
                var v = Vector512.Load(s + j) - m;
                if (j + 16 > count)
                {
                    // lanes past count: -inf, so they are 0 and the vector's other lanes do not depend on what was there
                    v = Vector512.ConditionalSelect(Vector512.LessThan(Vector512.Create(j) + Vector512<int>.Indices, Vector512.Create(count)).AsSingle(), v, Vector512.Create(float.NegativeInfinity));
                }
                ExpNonPositive(v).Store(s + j);
            }
            return;
        }
        if (Simd.Use256)
        {
            var m = Vector256.Create(max);
            for (; j < count; j += 8)
            {
                var v = Vector256.Load(s + j) - m;
                if (j + 8 > count)
                {
                    v = Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Create(j) + Vector256<int>.Indices, Vector256.Create(count)).AsSingle(), v, Vector256.Create(float.NegativeInfinity));
                }
                ExpNonPositive(v).Store(s + j);
            }
            return;
        }
        for (; j < count; j++)
        {
            s[j] = MathF.Exp(s[j] - max);
        }
    }

    /// <summary>
    /// e^x for x &lt;= 0 (scores minus their running max; -inf gives 0) in a dozen vector ops, about 1 ulp:
    /// x = n ln2 + r with |r| &lt;= ln2 / 2 (ln2 split in two so n ln2 is exact enough), e^r by its degree-6
    /// Taylor polynomial (truncation below 1.2e-7 relative), times 2^n built in the exponent bits. Below
    /// -88 the result is 0 (2^-127 has no normal form). .NET's Vector512.Exp measured several times slower.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> ExpNonPositive(Vector512<float> x)
    {
        x = Vector512.Max(x, Vector512.Create(-88f));
        var n = Avx512F.RoundScale(x * Vector512.Create(1.44269504f), 0);
        var r = Simd.Fma512(n, Vector512.Create(-0.693145751953125f), x);
        r = Simd.Fma512(n, Vector512.Create(-1.42860677e-06f), r);
        var p = Simd.Fma512(Vector512.Create(1f / 720), r, Vector512.Create(1f / 120));
        p = Simd.Fma512(p, r, Vector512.Create(1f / 24));
        p = Simd.Fma512(p, r, Vector512.Create(1f / 6));
        p = Simd.Fma512(p, r, Vector512.Create(0.5f));
        p = Simd.Fma512(p, r, Vector512<float>.One);
        p = Simd.Fma512(p, r, Vector512<float>.One);
        var scale = ((Avx512F.ConvertToVector512Int32(n) + Vector512.Create(127)) << 23).AsSingle();
        return p * scale;
    }

    /// <summary>The same e^x for 8 lanes (AVX2 + FMA), the same steps and constants.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> ExpNonPositive(Vector256<float> x)
    {
        x = Vector256.Max(x, Vector256.Create(-88f));
        var n = Avx.RoundToNearestInteger(x * Vector256.Create(1.44269504f));
        var r = Simd.Fma256(n, Vector256.Create(-0.693145751953125f), x);
        r = Simd.Fma256(n, Vector256.Create(-1.42860677e-06f), r);
        var p = Simd.Fma256(Vector256.Create(1f / 720), r, Vector256.Create(1f / 120));
        p = Simd.Fma256(p, r, Vector256.Create(1f / 24));
        p = Simd.Fma256(p, r, Vector256.Create(1f / 6));
        p = Simd.Fma256(p, r, Vector256.Create(0.5f));
        p = Simd.Fma256(p, r, Vector256<float>.One);
        p = Simd.Fma256(p, r, Vector256<float>.One);
        var scale = ((Avx.ConvertToVector256Int32(n) + Vector256.Create(127)) << 23).AsSingle();
        return p * scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen(ushort* src, float* dst, int n)
    {
        int i = 0;
        if (Simd.Use512)
        {
            for (; i + 16 <= n; i += 16)
            {
                HalfVectors.ToFloat(Vector256.Load(src + i)).Store(dst + i);
            }
        }
        else if (Simd.Use256)
        {
            for (; i + 8 <= n; i += 8)
            {
                HalfVectors.ToFloat(Vector128.Load(src + i)).Store(dst + i);
            }
        }
        for (; i < n; i++)
        {
            dst[i] = Fp16.ToFloat(src[i]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale(float* x, int n, float s)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(s);
            for (; i + 8 <= n; i += 8)
            {
                (Vector256.Load(x + i) * vs).Store(x + i);
            }
        }
        for (; i < n; i++)
        {
            x[i] *= s;
        }
    }

    // o += p * v
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float* o, float* v, float p, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vp = Vector512.Create(p);
            for (; i + 16 <= n; i += 16)
            {
                (Vector512.Load(o + i) + Vector512.Load(v + i) * vp).Store(o + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vp = Vector256.Create(p);
            for (; i + 8 <= n; i += 8)
            {
                (Vector256.Load(o + i) + Vector256.Load(v + i) * vp).Store(o + i);
            }
        }
        for (; i < n; i++)
        {
            o[i] += p * v[i];
        }
    }

    /// <summary>Writes one token's keys and values (kvHeads x headDim each) into its slot.</summary>
    public static void Store(PagedKvCache cache, int layer, int block, int slot, float* k, float* v)
    {
        int hd = cache.HeadDim;
        for (int h = 0; h < cache.KvHeads; h++)
        {
            byte* kd = cache.Key(layer, block, h, slot);
            byte* vd = cache.Value(layer, block, h, slot);
            if (cache.Type == KvCacheType.Q8_0)
            {
                Q8_0Codec.QuantizeLikeX86Backend(new ReadOnlySpan<float>(k + h * hd, hd), new Span<byte>(kd, cache.RowBytes));
                Q8_0Codec.QuantizeLikeX86Backend(new ReadOnlySpan<float>(v + h * hd, hd), new Span<byte>(vd, cache.RowBytes));
            }
            else if (cache.Type == KvCacheType.F16)
            {
                for (int i = 0; i < hd; i++)
                {
                    ((ushort*)kd)[i] = Fp16.FromFloat(k[h * hd + i]);
                    ((ushort*)vd)[i] = Fp16.FromFloat(v[h * hd + i]);
                }
            }
            else
            {
                new ReadOnlySpan<float>(k + h * hd, hd).CopyTo(new Span<float>(kd, hd));
                new ReadOnlySpan<float>(v + h * hd, hd).CopyTo(new Span<float>(vd, hd));
            }
        }
    }
}
