using System.Runtime.CompilerServices;
using Sluice.Engine.Kernels.Gemm;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Kernels;

/// <summary>
/// Y (n, rows) = X (n, columns) @ W^T for any supported weight type, spread over the worker pool by
/// contiguous runs of weight rows, so each weight byte is read from memory once per call however many
/// tokens the batch holds. Quantized weights take integer block dots against the input quantized to
/// 8-bit blocks (llama.cpp's activation rounding), one packed 16-row group at a time for every token
/// (<see cref="PackedGroups"/>). F16 weights take one FMA chain per (row, token) with rows in the vector
/// lanes, over packed 16-row groups and column-interleaved token tiles (<see cref="F16Kernels"/>).
/// BF16/F32 weights are expanded a group of rows at a time into scratch that stays in cache and
/// multiplied in 4x4 register tiles (<see cref="FloatGemm"/>), or streamed by the fused decode kernels
/// for one token. Every (row, token) result follows its type's one fixed recipe, so results do not
/// depend on the batch.
/// </summary>
public sealed unsafe class MatMul : IParallelWork, IDisposable
{
    // Few long runs of rows per thread let the hardware prefetchers stream a matrix at full bandwidth
    // (many short interleaved runs measured 40 % slower on decode); 4 per thread still balance.
    private const int TasksPerThread = 4;
    private const int MinRowsPerTask = 16;

    // Rows expanded at once: 16 rows of floats stay in L2 for every K the models use, and their 4-row
    // tiles share each loaded input tile.
    private const int GroupRows = 16;

    private readonly WorkerPool _pool;
    private readonly ScratchPool _scratch;
    private WeightMatrix _w = null!;
    private WeightKernels _k = null!;
    private float* _x;
    private float* _y;
    private int _n;
    private int _yStride;
    private int _rowsPerTask = MinRowsPerTask;
    // quantized weights: integer block dots against Q8_0 / Q8_K activation blocks (WeightKernels.Form)
    private Q8Blocks _blocks;
    private Q8KBlocks _kBlocks;
    private byte* _packed;

    public MatMul(WorkerPool pool)
    {
        _pool = pool;
        _scratch = new ScratchPool(Math.Min(32, pool.ThreadCount));
    }

    /// <summary>Multiplies; <paramref name="yStride"/> is the distance between output rows (at least w.Rows).</summary>
    public void Run(WeightMatrix w, MatMulInput input, float* y, int yStride)
    {
        if (input.Columns != w.Columns)
        {
            throw new ArgumentException($"matmul '{w.Name}': input has {input.Columns} columns, weight has {w.Columns}");
        }
        _w = w;
        _k = w.Kernels;
        _n = input.Rows;
        _y = y;
        _yStride = yStride;
        switch (_k.Form)
        {
            case MatMulInputForm.Q8_0Blocks:
                _blocks = input.Q8_0Blocks(_pool);
                _packed = w.Packed;
                RunTasks(16, 16);
                break;
            case MatMulInputForm.Q8_KBlocks:
                _kBlocks = input.Q8_KBlocks(_pool);
                _packed = w.Packed;
                RunTasks(16, 16);
                break;
            case MatMulInputForm.F16Tiles:
                _packed = w.Packed;
                _x = _packed != null ? input.F16Tiles(_pool) : input.Floats(_k.FloatInput, _pool);
                // runs of whole 4-group chunks (F16Rows)
                RunTasks(64, 64);
                break;
            default:
                _x = input.Floats(_k.FloatInput, _pool);
                RunTasks(4, MinRowsPerTask);
                break;
        }
    }

    // about TasksPerThread runs of rows per thread, each a multiple of `multiple` rows and at least `minimum`
    private void RunTasks(int multiple, int minimum)
    {
        int perThread = (_w.Rows + _pool.ThreadCount * TasksPerThread - 1) / (_pool.ThreadCount * TasksPerThread);
        _rowsPerTask = Math.Max(minimum, (perThread + multiple - 1) / multiple * multiple);
        _pool.Run(this, (_w.Rows + _rowsPerTask - 1) / _rowsPerTask);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int index)
    {
        int r0 = index * _rowsPerTask;
        int r1 = Math.Min(_w.Rows, r0 + _rowsPerTask);
        int k = _w.Columns;
        var form = _k.Form;
        if (form is MatMulInputForm.Q8_0Blocks or MatMulInputForm.Q8_KBlocks)
        {
            IntegerRows(r0, r1);
            return;
        }
        if (form == MatMulInputForm.F16Tiles)
        {
            if (_packed != null)
            {
                F16Rows(r0, r1);
            }
            else
            {
                F16DotRows(r0, r1);
            }
            return;
        }
        if (_n == 1 && _w.Rows >= 4 && DecodeKernels.Supports(_w.Type, k))
        {
            Decode(r0, r1, k);
            return;
        }
        int group = _n >= 4 ? GroupRows : 4;
        int slot = _scratch.Rent((long)group * k, out float* buf);
        try
        {
            float* tile = stackalloc float[16];
            for (int g0 = r0; g0 < r1; g0 += group)
            {
                int rows = Math.Min(group, r1 - g0);
                Expand(g0, rows, buf);
                MultiplyGroup(buf, g0, rows, tile);
            }
        }
        finally
        {
            _scratch.Return(slot);
        }
    }

    // BF16 / F32 rows r0..r1 for one token, four rows at a time, leftover rows as the last four rows
    // (recomputing some gives the same values)
    private void Decode(int r0, int r1, int k)
    {
        float* tmp = stackalloc float[4];
        for (int r = r0; r < r1; r += 4)
        {
            if (r + 4 <= r1)
            {
                DecodeKernels.Quad(_w.Type, _w.Row(r), _w.RowBytes, _x, k, _y + r);
                continue;
            }
            int start = Math.Max(0, r1 - 4);
            DecodeKernels.Quad(_w.Type, _w.Row(start), _w.RowBytes, _x, k, tmp);
            for (int i = r; i < r1; i++)
            {
                _y[i] = tmp[i - start];
            }
        }
    }

    // F16, packed: rows r0..r1 (r0 a multiple of 64) as chunks of four 16-row groups. Per chunk, each group
    // takes the tiles of 16 and 8 tokens while its weights sit in L2; the smaller tiles (at most one each of
    // 4, 2, 1 tokens) take two or four groups per call for enough independent FMA chains. The matrix's last
    // rows, when not a whole group, come from the group packed from its last 16 rows, written over rows
    // the previous group also writes, with the same values.
    private void F16Rows(int r0, int r1)
    {
        int k = _w.Columns;
        long groupBytes = (long)k * F16Kernels.PackedBlockBytes;
        int wholeGroups = _w.Rows / 16;
        int g1 = (r1 + 15) / 16;
        if (!Simd.Use512 && _n >= Avx2WidenTokens)
        {
            F16WidenedRows(r0 / 16, g1, groupBytes);
            return;
        }
        for (int c = r0 / 16; c < g1; c += 4)
        {
            int count = Math.Min(4, g1 - c);
            int t0 = 0;
            while (t0 < _n)
            {
                int width = F16Kernels.TileWidth(_n - t0);
                if (!Simd.Use512 && width == 1)
                {
                    // one token (decode): four groups a call keep eight FMA chains in flight
                    for (int g = c; g < c + count; g++)
                    {
                        if (g + 4 <= Math.Min(c + count, wholeGroups))
                        {
                            F16Kernels.Avx2Groups4(Group(g, groupBytes), groupBytes, Flags(g), _w.SubnormalWords, k, _x + (long)t0 * k, Output(g, t0), 16);
                            g += 3;
                            continue;
                        }
                        F16Kernels.Avx2Tile(1, Group(g, groupBytes), Flags(g), k, _x + (long)t0 * k, 1, Output(g, t0), _yStride);
                    }
                }
                else if (!Simd.Use512)
                {
                    for (int g = c; g < c + count; g++)
                    {
                        for (int j = 0; j < width; j += width >= 4 ? 4 : 1)
                        {
                            F16Kernels.Avx2Tile(width >= 4 ? 4 : 1, Group(g, groupBytes), Flags(g), k, _x + (long)t0 * k + j, width, Output(g, t0 + j), _yStride);
                        }
                    }
                }
                else if (width >= 8)
                {
                    for (int g = c; g < c + count; g++)
                    {
                        F16Kernels.Tile(width, Group(g, groupBytes), 0, Flags(g), 0, k, _x + (long)t0 * k, Output(g, t0), _yStride, 0);
                    }
                }
                else
                {
                    int per = F16Kernels.GroupsPerCall(width);
                    for (int g = c; g < c + count; g += per)
                    {
                        if (g + per <= Math.Min(c + count, wholeGroups))
                        {
                            F16Kernels.Tile(width, Group(g, groupBytes), groupBytes, Flags(g), _w.SubnormalWords, k, _x + (long)t0 * k, Output(g, t0), _yStride, 16);
                            continue;
                        }
                        // fewer than `per` groups left, or the last partial group: one group per call
                        for (int h = g; h < Math.Min(g + per, c + count); h++)
                        {
                            F16Kernels.Tile(width, Group(h, groupBytes), 0, Flags(h), 0, k, _x + (long)t0 * k, Output(h, t0), _yStride, 0);
                        }
                    }
                }
                t0 += width;
            }
        }
    }

    // AVX2 from this many tokens: a group is widened to floats once (scratch that stays in L2) and every token
    // tile reads the floats, instead of widening each column again per four tokens (three integer ops per
    // eight values on the FMA ports). Below it, widening once costs more than it saves.
    private const int Avx2WidenTokens = 8;

    // F16 on AVX2 for many tokens: groups g0..g1, one at a time, widened once, times every token tile
    private void F16WidenedRows(int g0, int g1, long groupBytes)
    {
        int k = _w.Columns;
        int slot = _scratch.Rent(16L * k, out float* buf);
        try
        {
            for (int g = g0; g < g1; g++)
            {
                ulong* flags = Flags(g);
                F16Kernels.WidenGroup(Group(g, groupBytes), flags, k, buf);
                for (int t0 = 0; t0 < _n;)
                {
                    int width = F16Kernels.TileWidth(_n - t0);
                    for (int j = 0; j < width;)
                    {
                        int run = F16Kernels.Avx2WideRun(width, j);
                        F16Kernels.Avx2WideTile(run, buf, flags, k, _x + (long)t0 * k + j, width, Output(g, t0 + j), _yStride);
                        j += run;
                    }
                    t0 += width;
                }
            }
        }
        finally
        {
            _scratch.Return(slot);
        }
    }

    private byte* Group(int g, long groupBytes) => _packed + g * groupBytes;

    // packed F16: group g's subnormal-column bits (WeightMatrix.F16SubnormalColumns)
    private ulong* Flags(int g) => _w.F16SubnormalColumns + (long)g * _w.SubnormalWords;

    // where group g's rows for token t go
    private float* Output(int g, int t) => _y + (long)t * _yStride + PackedGroups.FirstRow(g, _w.Rows);

    // F16 not packed (fewer than 16 rows, an infinity or NaN in the matrix, or no AVX2): the recipe row by row
    private void F16DotRows(int r0, int r1)
    {
        int k = _w.Columns;
        var dot = _k.F16Dot;
        for (int r = r0; r < r1; r++)
        {
            for (int t = 0; t < _n; t++)
            {
                _y[(long)t * _yStride + r] = dot(_w.Row(r), _x + (long)t * k, k);
            }
        }
    }

    // Q4_0 / Q8_0 / Q4_K / Q6_K: one packed 16-row group at a time for every token (tasks start on multiples of
    // 16); the matrix's last rows, when not a whole group, come from the group packed from its last 16 rows
    private void IntegerRows(int r0, int r1)
    {
        var kernels = _k;
        bool kBlocks = kernels.Form == MatMulInputForm.Q8_KBlocks;
        int blocks = _w.Columns / kernels.BlockElements;
        if (_packed == null)
        {
            var dot = kernels.Q8_0Dot;
            var kDot = kernels.Q8_KDot;
            for (int r = r0; r < r1; r++)
            {
                for (int t = 0; t < _n; t++)
                {
                    _y[(long)t * _yStride + r] = kBlocks ? kDot(_w.Row(r), blocks, _kBlocks, t) : dot(_w.Row(r), blocks, _blocks, t);
                }
            }
            return;
        }
        var rows16 = kernels.Q8_0Rows16;
        var kRows16 = kernels.Q8_KRows16;
        long groupBytes = (long)blocks * kernels.PackedBlockBytes;
        int slot = _scratch.Rent(16L * _n + kernels.ScratchFloats(_n), out float* part);
        try
        {
            float* acc = part + 16L * _n;
            for (int g = r0; g < r1; g += 16)
            {
                byte* group = _packed + g / 16 * groupBytes;
                bool whole = g + 16 <= _w.Rows;
                float* y = whole ? _y + g : part;
                long stride = whole ? _yStride : 16;
                if (kBlocks)
                {
                    kRows16(group, blocks, _kBlocks, acc, y, stride);
                }
                else
                {
                    rows16(group, blocks, _blocks, acc, y, stride);
                }
                if (whole)
                {
                    continue;
                }
                int first = _w.Rows - 16;
                for (int t = 0; t < _n; t++)
                {
                    for (int r = g; r < r1; r++)
                    {
                        _y[(long)t * _yStride + r] = part[t * 16 + r - first];
                    }
                }
            }
        }
        finally
        {
            _scratch.Return(slot);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Expand(int r0, int rows, float* buf)
    {
        int k = _w.Columns;
        for (int i = 0; i < rows; i++)
        {
            RowDequantizer.Dequantize(_w.Type, _w.Row(r0 + i), 0, k, buf + (long)i * k);
        }
    }

    // rows (r0..r0+rows) expanded in buf (rows, k) times every input row
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MultiplyGroup(float* buf, int r0, int rows, float* tile)
    {
        int k = _w.Columns;
        int t = 0;
        for (; t + 4 <= _n; t += 4)
        {
            float* x = _x + (long)t * k;
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                FloatGemm.Tile4x4(buf + (long)r * k, k, x, k, k, tile);
                for (int j = 0; j < 4; j++)
                {
                    float* y = _y + (long)(t + j) * _yStride + r0 + r;
                    y[0] = tile[j * 4];
                    y[1] = tile[j * 4 + 1];
                    y[2] = tile[j * 4 + 2];
                    y[3] = tile[j * 4 + 3];
                }
            }
            for (; r < rows; r++)
            {
                for (int j = 0; j < 4; j++)
                {
                    _y[(long)(t + j) * _yStride + r0 + r] = FloatGemm.Dot(buf + (long)r * k, x + (long)j * k, k);
                }
            }
        }
        for (; t < _n; t++)
        {
            float* x = _x + (long)t * k;
            float* y = _y + (long)t * _yStride + r0;
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                FloatGemm.Tile4x1(buf + (long)r * k, k, x, k, y + r);
            }
            for (; r < rows; r++)
            {
                y[r] = FloatGemm.Dot(buf + (long)r * k, x, k);
            }
        }
    }

    public void Dispose()
    {
        _scratch.Dispose();
    }
}
