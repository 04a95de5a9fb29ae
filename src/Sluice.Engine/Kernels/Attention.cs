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

    // the stack buffers are written before they are read (lanes past a count are masked or zeroed explicitly), so they
    // are not cleared on entry (tens of KiB per item, a sizable part of a decode item's time)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
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
        // 64-wide heads on AVX2/AVX-512: every row of the item (tile token x GQA head) against a span of keys as one
        // small GEMM (Scores64), a score row per query row. A span is one block, or for widened (F16/Q8_0) caches
        // with small blocks as many whole blocks as make 64 keys, so each row's online-softmax step (its maxima,
        // exponent and sums) is paid once per 64 keys. Spans start at fixed multiples of their length, so every
        // token sees the same spans whatever its tile.
        bool tiled = hd == 64 && Simd.Use256;
        int span = tiled && f16 ? Math.Max(1, 64 / bs) * bs : bs;
        // the row-at-a-time form's scores (the tiled form keeps a row of them per query row instead), with room for a
        // whole last vector (ExpShifted)
        int scoreFloats = tiled ? 0 : (span + 15) / 16 * 16;
        // an F16 or Q8_0 span's keys and values widened once for the whole tile: on the stack when they are
        // small (always, for real models), else pinned on the heap (a stack overflow would end the process)
        int widened = f16 ? span * hd : 0;
        float[]? heapScores = scoreFloats <= StackFloats ? null : GC.AllocateUninitializedArray<float>(scoreFloats, pinned: true);
        float[]? heapKeys = widened <= StackFloats ? null : GC.AllocateUninitializedArray<float>(widened, pinned: true);
        float[]? heapValues = widened <= StackFloats ? null : GC.AllocateUninitializedArray<float>(widened, pinned: true);
        int rowCount = (t1 - t0) * group;
        int keyPad = (span + 15) / 16 * 16;
        int transposed = tiled ? 64 * keyPad : 0;
        int scoreRows = tiled ? rowCount * keyPad : 0;
        float[]? heapTransposed = transposed <= StackFloats ? null : GC.AllocateUninitializedArray<float>(transposed, pinned: true);
        float[]? heapScoreRows = scoreRows <= StackFloats ? null : GC.AllocateUninitializedArray<float>(scoreRows, pinned: true);
        Span<float> transposedSpan = heapTransposed is null ? stackalloc float[transposed] : heapTransposed;
        Span<float> scoreRowSpan = heapScoreRows is null ? stackalloc float[scoreRows] : heapScoreRows;
        float* kt = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(transposedSpan));
        float* rowScores = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(scoreRowSpan));
        float* qt = stackalloc float[tiled ? 64 * 8 : 0];
        Span<float> corrections = stackalloc float[tiled ? group : 0];
        int qtFirst = -1;
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
        for (int start = 0; start < ctxAll; start += span)
        {
            int rows = Math.Min(span, ctxAll - start);
            // (rows, headDim) rows of this span and head, contiguous in the cache (F32: the span is one block) or
            // widened block by block into kf and vf
            float* keys = kf, values = vf;
            for (int s0 = 0; s0 < rows; s0 += bs)
            {
                int block = table[(start + s0) / bs];
                int n = Math.Min(bs, rows - s0) * hd;
                if (kvType == KvCacheType.F16)
                {
                    Widen((ushort*)_cache.Key(_layer, block, kvh, 0), kf + s0 * hd, n);
                    Widen((ushort*)_cache.Value(_layer, block, kvh, 0), vf + s0 * hd, n);
                }
                else if (kvType == KvCacheType.Q8_0)
                {
                    // rows of whole Q8_0 blocks follow each other, so a block's rows expand as one run
                    RowDequantizer.Dequantize(GgmlType.Q8_0, _cache.Key(_layer, block, kvh, 0), 0, n, kf + s0 * hd);
                    RowDequantizer.Dequantize(GgmlType.Q8_0, _cache.Value(_layer, block, kvh, 0), 0, n, vf + s0 * hd);
                }
                else
                {
                    keys = (float*)_cache.Key(_layer, block, kvh, 0);
                    values = (float*)_cache.Value(_layer, block, kvh, 0);
                }
            }
            if (tiled)
            {
                // the tile's positions rise by one a token, so the tokens that see this block are a suffix
                int first = t0;
                while (_positions[first] + 1 <= start)
                {
                    first++;
                }
                int firstRow = (first - t0) * group;
                int lanes = Simd.Use512 ? 16 : 8;
                int keyCount = (rows + lanes - 1) / lanes * lanes;
                long qRow0 = (long)t0 * _heads + kvh * group;
                if (rowCount - firstRow <= 8)
                {
                    // few rows (decode: one token's GQA group): the rows in the lanes, so the keys need no transposing
                    if (firstRow != qtFirst)
                    {
                        TransposeRows(_q, qRow0, group, _heads, firstRow, rowCount - firstRow, qt);
                        qtFirst = firstRow;
                    }
                    ScoresFewRows(qt, firstRow, rowCount - firstRow, keys, rows, keyCount, rowScores, keyPad);
                }
                else if (Simd.Use512)
                {
                    TransposeKeys(keys, rows, keyCount, kt, keyPad);
                    Scores64Avx512(_q, qRow0, group, _heads, firstRow, rowCount, kt, keyPad, keyCount, rowScores);
                }
                else
                {
                    TransposeKeys(keys, rows, keyCount, kt, keyPad);
                    Scores64Avx2(_q, qRow0, group, _heads, firstRow, rowCount, kt, keyPad, keyCount, rowScores);
                }
                for (int t = first; t < t1; t++)
                {
                    int count = Math.Min(span, _positions[t] + 1 - start);
                    long row = (long)t * _heads + kvh * group;
                    int state = (t - t0) * group;
                    // each row's softmax step, then the values for several rows of this token at a time (they share
                    // the count; a missing row of the last set repeats the token's last row, whose result it writes
                    // again unchanged)
                    for (int g = 0; g < group; g++)
                    {
                        corrections[g] = SoftmaxStep(rowScores + (long)(state + g) * keyPad, count, ref maxes[state + g], ref sums[state + g]);
                    }
                    int set = Simd.Use512 ? 4 : 2;
                    for (int g0 = 0; g0 < group; g0 += set)
                    {
                        int ga = g0, gb = Math.Min(g0 + 1, group - 1), gc = Math.Min(g0 + 2, group - 1), gd = Math.Min(g0 + 3, group - 1);
                        float* pa = rowScores + (long)(state + ga) * keyPad, pb = rowScores + (long)(state + gb) * keyPad;
                        float* oa = _out + (row + ga) * hd, ob = _out + (row + gb) * hd;
                        if (Simd.Use512)
                        {
                            Values64Avx512(values, count, oa, ob, _out + (row + gc) * hd, _out + (row + gd) * hd,
                                pa, pb, rowScores + (long)(state + gc) * keyPad, rowScores + (long)(state + gd) * keyPad,
                                corrections[ga], corrections[gb], corrections[gc], corrections[gd]);
                        }
                        else
                        {
                            Values64Avx2(values, count, oa, ob, pa, pb, corrections[ga], corrections[gb]);
                        }
                    }
                }
                continue;
            }
            for (int t = t0; t < t1; t++)
            {
                int ctx = _positions[t] + 1;
                if (start >= ctx)
                {
                    continue;
                }
                int count = Math.Min(span, ctx - start);
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
        GC.KeepAlive(heapTransposed);
        GC.KeepAlive(heapScoreRows);
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

    // keys[j][d] (rows of them, 64 wide) to kt[d * keyPad + j] for j < keyCount, zero past rows: 8 x 8 tiles
    // transposed in registers
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposeKeys(float* keys, int rows, int keyCount, float* kt, int keyPad)
    {
        for (int j0 = 0; j0 < keyCount; j0 += 8)
        {
            float* k = keys + j0 * 64;
            int left = rows - j0;
            for (int d0 = 0; d0 < 64; d0 += 8)
            {
                var r0 = left > 0 ? Vector256.Load(k + d0) : default;
                var r1 = left > 1 ? Vector256.Load(k + 64 + d0) : default;
                var r2 = left > 2 ? Vector256.Load(k + 128 + d0) : default;
                var r3 = left > 3 ? Vector256.Load(k + 192 + d0) : default;
                var r4 = left > 4 ? Vector256.Load(k + 256 + d0) : default;
                var r5 = left > 5 ? Vector256.Load(k + 320 + d0) : default;
                var r6 = left > 6 ? Vector256.Load(k + 384 + d0) : default;
                var r7 = left > 7 ? Vector256.Load(k + 448 + d0) : default;
                StoreTransposed(r0, r1, r2, r3, r4, r5, r6, r7, kt + d0 * keyPad + j0, keyPad, 8);
            }
        }
    }

    // rows firstRow.. (at most 8) of an item transposed: qt[d * 8 + i] is row firstRow + i's value at d (a missing
    // row repeats the last)
    private static void TransposeRows(float* q, long qRow0, int group, int heads, int firstRow, int n, float* qt)
    {
        for (int i = 0; i < 8; i++)
        {
            float* qr = QueryRow(q, qRow0, group, heads, firstRow + Math.Min(i, n - 1));
            for (int d = 0; d < 64; d++)
            {
                qt[d * 8 + i] = qr[d];
            }
        }
    }

    // the 8 x 8 matrix whose rows are r0..r7, transposed: its column c (r0[c] .. r7[c]) stored at dst + c * stride for
    // c < count. Per 128-bit lane pairs of rows interleave, then columns of four rows form (c low, c + 4 high)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTransposed(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* dst, int stride, int count)
    {
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).Store(dst);
        if (count > 1) { Avx.Permute2x128(u1, u5, 0x20).Store(dst + stride); }
        if (count > 2) { Avx.Permute2x128(u2, u6, 0x20).Store(dst + 2 * stride); }
        if (count > 3) { Avx.Permute2x128(u3, u7, 0x20).Store(dst + 3 * stride); }
        if (count > 4) { Avx.Permute2x128(u0, u4, 0x31).Store(dst + 4 * stride); }
        if (count > 5) { Avx.Permute2x128(u1, u5, 0x31).Store(dst + 5 * stride); }
        if (count > 6) { Avx.Permute2x128(u2, u6, 0x31).Store(dst + 6 * stride); }
        if (count > 7) { Avx.Permute2x128(u3, u7, 0x31).Store(dst + 7 * stride); }
    }

    // query row r of an item (r = token * group + g): its 64 floats
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* QueryRow(float* q, long qRow0, int group, int heads, int r) =>
        q + (qRow0 + (long)(r / group) * heads + r % group) * 64;

    // Raw scores of rows firstRow..rowCount - 1 against keys 0..keyCount - 1 (keyCount a multiple of 8): row r's score
    // for key j is one FMA chain over d = 0..63 in lane j, so it depends on nothing but that row and key (whatever
    // rows share the tile; a missing row of the last tile repeats its last row). 4 rows x 16 keys: 8 chains, per d
    // 2 key loads and 4 broadcast loads
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scores64Avx2(float* q, long qRow0, int group, int heads, int firstRow, int rowCount, float* kt, int keyPad, int keyCount, float* scores)
    {
        for (int r0 = firstRow; r0 < rowCount; r0 += 4)
        {
            int last = rowCount - 1;
            float* q0 = QueryRow(q, qRow0, group, heads, r0);
            float* q1 = QueryRow(q, qRow0, group, heads, Math.Min(r0 + 1, last));
            float* q2 = QueryRow(q, qRow0, group, heads, Math.Min(r0 + 2, last));
            float* q3 = QueryRow(q, qRow0, group, heads, Math.Min(r0 + 3, last));
            int tileRows = Math.Min(4, rowCount - r0);
            float* s = scores + (long)r0 * keyPad;
            int j = 0;
            for (; j + 16 <= keyCount; j += 16)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
                float* k = kt + j;
                for (int d = 0; d < 64; d++, k += keyPad)
                {
                    var k0 = Vector256.Load(k);
                    var k1 = Vector256.Load(k + 8);
                    var x = Vector256.Create(q0[d]);
                    a0 = Fma.MultiplyAdd(x, k0, a0);
                    b0 = Fma.MultiplyAdd(x, k1, b0);
                    x = Vector256.Create(q1[d]);
                    a1 = Fma.MultiplyAdd(x, k0, a1);
                    b1 = Fma.MultiplyAdd(x, k1, b1);
                    x = Vector256.Create(q2[d]);
                    a2 = Fma.MultiplyAdd(x, k0, a2);
                    b2 = Fma.MultiplyAdd(x, k1, b2);
                    x = Vector256.Create(q3[d]);
                    a3 = Fma.MultiplyAdd(x, k0, a3);
                    b3 = Fma.MultiplyAdd(x, k1, b3);
                }
                StoreRows(s + j, keyPad, tileRows, a0, a1, a2, a3);
                StoreRows(s + j + 8, keyPad, tileRows, b0, b1, b2, b3);
            }
            if (j < keyCount)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* k = kt + j;
                for (int d = 0; d < 64; d++, k += keyPad)
                {
                    var k0 = Vector256.Load(k);
                    a0 = Fma.MultiplyAdd(Vector256.Create(q0[d]), k0, a0);
                    a1 = Fma.MultiplyAdd(Vector256.Create(q1[d]), k0, a1);
                    a2 = Fma.MultiplyAdd(Vector256.Create(q2[d]), k0, a2);
                    a3 = Fma.MultiplyAdd(Vector256.Create(q3[d]), k0, a3);
                }
                StoreRows(s + j, keyPad, tileRows, a0, a1, a2, a3);
            }
        }
    }

    // The same scores for at most 8 rows with the rows in the lanes: per key one chain over d of the rows' values at d
    // times the key's value at d (the same FMAs in the same order as in Scores64Avx2, so the same results), 8 keys at a
    // time (8 chains), then an 8 x 8 transpose to score rows. Keys past `rows` are not read.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresFewRows(float* qt, int firstRow, int n, float* keys, int rows, int keyCount, float* scores, int keyPad)
    {
        float* zero = stackalloc float[64];
        new Span<float>(zero, 64).Clear();
        for (int j0 = 0; j0 < keyCount; j0 += 8)
        {
            int left = rows - j0;
            float* k0 = left > 0 ? keys + j0 * 64 : zero;
            float* k1 = left > 1 ? k0 + 64 : zero;
            float* k2 = left > 2 ? k0 + 128 : zero;
            float* k3 = left > 3 ? k0 + 192 : zero;
            float* k4 = left > 4 ? k0 + 256 : zero;
            float* k5 = left > 5 ? k0 + 320 : zero;
            float* k6 = left > 6 ? k0 + 384 : zero;
            float* k7 = left > 7 ? k0 + 448 : zero;
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<float> a4 = default, a5 = default, a6 = default, a7 = default;
            for (int d = 0; d < 64; d++)
            {
                var x = Vector256.Load(qt + d * 8);
                a0 = Fma.MultiplyAdd(x, Vector256.Create(k0[d]), a0);
                a1 = Fma.MultiplyAdd(x, Vector256.Create(k1[d]), a1);
                a2 = Fma.MultiplyAdd(x, Vector256.Create(k2[d]), a2);
                a3 = Fma.MultiplyAdd(x, Vector256.Create(k3[d]), a3);
                a4 = Fma.MultiplyAdd(x, Vector256.Create(k4[d]), a4);
                a5 = Fma.MultiplyAdd(x, Vector256.Create(k5[d]), a5);
                a6 = Fma.MultiplyAdd(x, Vector256.Create(k6[d]), a6);
                a7 = Fma.MultiplyAdd(x, Vector256.Create(k7[d]), a7);
            }
            // a_i holds key j0 + i's score for the 8 rows; transposed, vector r holds row r's scores for the 8 keys
            StoreTransposed(a0, a1, a2, a3, a4, a5, a6, a7, scores + (long)firstRow * keyPad + j0, keyPad, n);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRows(float* s, int stride, int rows, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
    {
        a0.Store(s);
        if (rows > 1)
        {
            a1.Store(s + stride);
        }
        if (rows > 2)
        {
            a2.Store(s + 2 * stride);
        }
        if (rows > 3)
        {
            a3.Store(s + 3 * stride);
        }
    }

    // Scores64Avx2 on AVX-512: the same chains (so the same scores), 8 rows x 16 keys a tile
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scores64Avx512(float* q, long qRow0, int group, int heads, int firstRow, int rowCount, float* kt, int keyPad, int keyCount, float* scores)
    {
        for (int r0 = firstRow; r0 < rowCount; r0 += 8)
        {
            int last = rowCount - 1;
            float* q0 = QueryRow(q, qRow0, group, heads, r0);
            float* q1 = QueryRow(q, qRow0, group, heads, Math.Min(r0 + 1, last));
            float* q2 = QueryRow(q, qRow0, group, heads, Math.Min(r0 + 2, last));
            float* q3 = QueryRow(q, qRow0, group, heads, Math.Min(r0 + 3, last));
            float* q4 = QueryRow(q, qRow0, group, heads, Math.Min(r0 + 4, last));
            float* q5 = QueryRow(q, qRow0, group, heads, Math.Min(r0 + 5, last));
            float* q6 = QueryRow(q, qRow0, group, heads, Math.Min(r0 + 6, last));
            float* q7 = QueryRow(q, qRow0, group, heads, Math.Min(r0 + 7, last));
            int tileRows = Math.Min(8, rowCount - r0);
            for (int j = 0; j < keyCount; j += 16)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                Vector512<float> a4 = default, a5 = default, a6 = default, a7 = default;
                float* k = kt + j;
                for (int d = 0; d < 64; d++, k += keyPad)
                {
                    var k0 = Vector512.Load(k);
                    a0 = Avx512F.FusedMultiplyAdd(Vector512.Create(q0[d]), k0, a0);
                    a1 = Avx512F.FusedMultiplyAdd(Vector512.Create(q1[d]), k0, a1);
                    a2 = Avx512F.FusedMultiplyAdd(Vector512.Create(q2[d]), k0, a2);
                    a3 = Avx512F.FusedMultiplyAdd(Vector512.Create(q3[d]), k0, a3);
                    a4 = Avx512F.FusedMultiplyAdd(Vector512.Create(q4[d]), k0, a4);
                    a5 = Avx512F.FusedMultiplyAdd(Vector512.Create(q5[d]), k0, a5);
                    a6 = Avx512F.FusedMultiplyAdd(Vector512.Create(q6[d]), k0, a6);
                    a7 = Avx512F.FusedMultiplyAdd(Vector512.Create(q7[d]), k0, a7);
                }
                float* s = scores + (long)r0 * keyPad + j;
                a0.Store(s);
                if (tileRows > 1) { a1.Store(s + keyPad); }
                if (tileRows > 2) { a2.Store(s + 2 * keyPad); }
                if (tileRows > 3) { a3.Store(s + 3 * keyPad); }
                if (tileRows > 4) { a4.Store(s + 4 * keyPad); }
                if (tileRows > 5) { a5.Store(s + 5 * keyPad); }
                if (tileRows > 6) { a6.Store(s + 6 * keyPad); }
                if (tileRows > 7) { a7.Store(s + 7 * keyPad); }
            }
        }
    }

    // One query row's online-softmax step over a span's first `count` keys, from its raw scores (scaled and masked
    // here, then exponentiated in place): the new running max and sum, and the factor that rescales its output so far
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private float SoftmaxStep(float* scores, int count, ref float max, ref float sum)
    {
        float blockMax;
        if (Simd.Use512)
        {
            var scale = Vector512.Create(_scale);
            var m = Vector512.Create(float.NegativeInfinity);
            for (int j0 = 0; j0 < count; j0 += 16)
            {
                var sv = Vector512.Load(scores + j0) * scale;
                if (count - j0 < 16)
                {
                    sv = Vector512.ConditionalSelect(Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count - j0)).AsSingle(), sv, Vector512.Create(float.NegativeInfinity));
                }
                sv.Store(scores + j0);
                m = Vector512.Max(m, sv);
            }
            blockMax = m.ToScalarMax();
        }
        else
        {
            var scale = Vector256.Create(_scale);
            var m = Vector256.Create(float.NegativeInfinity);
            for (int j0 = 0; j0 < count; j0 += 8)
            {
                var sv = Vector256.Load(scores + j0) * scale;
                if (count - j0 < 8)
                {
                    sv = Vector256.ConditionalSelect(Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count - j0)).AsSingle(), sv, Vector256.Create(float.NegativeInfinity));
                }
                sv.Store(scores + j0);
                m = Vector256.Max(m, sv);
            }
            blockMax = m.ToScalarMax();
        }
        float newMax = MathF.Max(max, blockMax);
        float c = newMax == max ? 1f : MathF.Exp(max - newMax);
        ExpShifted(scores, count, newMax);
        // lanes past count are 0 after ExpShifted
        float total;
        if (Simd.Use512)
        {
            var ps = Vector512<float>.Zero;
            for (int j0 = 0; j0 < count; j0 += 16)
            {
                ps += Vector512.Load(scores + j0);
            }
            total = Vector512.Sum(ps);
        }
        else
        {
            var ps = Vector256<float>.Zero;
            for (int j0 = 0; j0 < count; j0 += 8)
            {
                ps += Vector256.Load(scores + j0);
            }
            total = Vector256.Sum(ps);
        }
        sum = sum * c + total;
        max = newMax;
        return c;
    }

    // Four rows' outputs (64 wide), each first rescaled by its factor, take the weighted values of the span's first
    // `count` keys: 16 accumulators, one FMA chain each over the keys in order, so a row's result does not depend on
    // the rows beside it; each key's values are loaded once for the four rows
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Values64Avx512(float* values, int count, float* oa, float* ob, float* oc, float* od,
        float* pa, float* pb, float* pc, float* pd, float ca, float cb, float cc, float cd)
    {
        var a = Row512.Load(oa, ca);
        var b = Row512.Load(ob, cb);
        var c = Row512.Load(oc, cc);
        var d = Row512.Load(od, cd);
        for (int j = 0; j < count; j++)
        {
            var v = Row512.Load(values + j * 64);
            a.Add(v, pa[j]);
            b.Add(v, pb[j]);
            c.Add(v, pc[j]);
            d.Add(v, pd[j]);
        }
        a.Store(oa);
        b.Store(ob);
        c.Store(oc);
        d.Store(od);
    }

    // a 64-wide row in four registers
    private struct Row512
    {
        private Vector512<float> _0, _1, _2, _3;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Row512 Load(float* o) =>
            new() { _0 = Vector512.Load(o), _1 = Vector512.Load(o + 16), _2 = Vector512.Load(o + 32), _3 = Vector512.Load(o + 48) };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Row512 Load(float* o, float factor)
        {
            var f = Vector512.Create(factor);
            return new Row512 { _0 = Vector512.Load(o) * f, _1 = Vector512.Load(o + 16) * f, _2 = Vector512.Load(o + 32) * f, _3 = Vector512.Load(o + 48) * f };
        }

        // this += v * p, one FMA chain per register
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add(in Row512 v, float p)
        {
            var w = Vector512.Create(p);
            _0 = Simd.Fma512(v._0, w, _0);
            _1 = Simd.Fma512(v._1, w, _1);
            _2 = Simd.Fma512(v._2, w, _2);
            _3 = Simd.Fma512(v._3, w, _3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Store(float* o)
        {
            _0.Store(o);
            _1.Store(o + 16);
            _2.Store(o + 32);
            _3.Store(o + 48);
        }
    }

    // Values64Avx512 on AVX2: two rows, a 32-wide half at a time (8 accumulators, one FMA chain each over the keys in
    // order); each key's half is loaded once for both rows
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Values64Avx2(float* values, int count, float* oa, float* ob, float* pa, float* pb, float ca, float cb)
    {
        for (int h = 0; h < 64; h += 32)
        {
            var a = Half256.Load(oa + h, ca);
            var b = Half256.Load(ob + h, cb);
            for (int j = 0; j < count; j++)
            {
                var v = Half256.Load(values + j * 64 + h);
                a.Add(v, pa[j]);
                b.Add(v, pb[j]);
            }
            a.Store(oa + h);
            b.Store(ob + h);
        }
    }

    // 32 floats of a row in four registers
    private struct Half256
    {
        private Vector256<float> _0, _1, _2, _3;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Half256 Load(float* o) =>
            new() { _0 = Vector256.Load(o), _1 = Vector256.Load(o + 8), _2 = Vector256.Load(o + 16), _3 = Vector256.Load(o + 24) };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Half256 Load(float* o, float factor)
        {
            var f = Vector256.Create(factor);
            return new Half256 { _0 = Vector256.Load(o) * f, _1 = Vector256.Load(o + 8) * f, _2 = Vector256.Load(o + 16) * f, _3 = Vector256.Load(o + 24) * f };
        }

        // this += v * p, one FMA chain per register
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add(in Half256 v, float p)
        {
            var w = Vector256.Create(p);
            _0 = Simd.Fma256(v._0, w, _0);
            _1 = Simd.Fma256(v._1, w, _1);
            _2 = Simd.Fma256(v._2, w, _2);
            _3 = Simd.Fma256(v._3, w, _3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Store(float* o)
        {
            _0.Store(o);
            _1.Store(o + 8);
            _2.Store(o + 16);
            _3.Store(o + 24);
        }
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
                HalfVectors.ToHalfRow(k + h * hd, (ushort*)kd, hd);
                HalfVectors.ToHalfRow(v + h * hd, (ushort*)vd, hd);
            }
            else
            {
                new ReadOnlySpan<float>(k + h * hd, hd).CopyTo(new Span<float>(kd, hd));
                new ReadOnlySpan<float>(v + h * hd, hd).CopyTo(new Span<float>(vd, hd));
            }
        }
    }
}
