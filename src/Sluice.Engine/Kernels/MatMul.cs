using System.Runtime.CompilerServices;
using Sluice.Engine.Kernels.Gemm;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Kernels;

/// <summary>
/// Y (n, rows) = X (n, columns) @ W^T for any supported weight type, spread over the worker pool by
/// contiguous runs of weight rows, so each weight byte is read from memory once per call however many
/// tokens the batch holds. Quantized weights take integer block dots against the input quantized to
/// 8-bit blocks (llama.cpp's activation rounding), one packed 16-row group at a time for every token
/// (<see cref="PackedGroups"/>). Float weights are expanded a group of rows at a time into scratch
/// that stays in cache and multiplied in 4x4 register tiles (<see cref="FloatGemm"/>), or streamed
/// by the fused decode kernels for one to eight tokens. Every (row, token) result follows its type's
/// one fixed recipe, so results do not depend on the batch.
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
    private float* _x;
    private float* _y;
    private int _n;
    private int _yStride;
    private int _rowsPerTask = MinRowsPerTask;
    // decode on all-finite F16 weights: x * 2^112 for DecodeKernels.F16Scaled
    private bool _scaledHalves;
    private NativeBuffer<float>? _scaledX;
    // quantized weights (WeightMatrix.IntegerDots): integer block dots against Q8_0 / Q8_K activation blocks
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
        _n = input.Rows;
        _y = y;
        _yStride = yStride;
        if (w.IntegerDots)
        {
            if (w.Type is Quantization.GgmlType.Q4_K or Quantization.GgmlType.Q6_K)
            {
                _kBlocks = input.Q8_KBlocks(_pool);
            }
            else
            {
                _blocks = input.Q8_0Blocks(_pool);
            }
            _packed = w.Packed;
            int perThreadRows = (w.Rows + _pool.ThreadCount * TasksPerThread - 1) / (_pool.ThreadCount * TasksPerThread);
            _rowsPerTask = Math.Max(16, (perThreadRows + 15) / 16 * 16);
            _pool.Run(this, (w.Rows + _rowsPerTask - 1) / _rowsPerTask);
            return;
        }
        _x = input.Floats(w.Activation, _pool);
        _scaledHalves = _n == 1 && w.Type == Quantization.GgmlType.F16 && w.Rows >= 4
            && DecodeKernels.Supports(w.Type, w.Columns) && w.HalvesAllFinite;
        if (_scaledHalves)
        {
            _x = ScaleForHalves(_x, w.Columns);
        }
        int perThread = (w.Rows + _pool.ThreadCount * TasksPerThread - 1) / (_pool.ThreadCount * TasksPerThread);
        _rowsPerTask = Math.Max(MinRowsPerTask, (perThread + 3) / 4 * 4);
        _pool.Run(this, (w.Rows + _rowsPerTask - 1) / _rowsPerTask);
    }

    private float* ScaleForHalves(float* x, int k)
    {
        if (_scaledX is null || _scaledX.Length < k)
        {
            _scaledX?.Dispose();
            _scaledX = new NativeBuffer<float>(k);
        }
        float* xs = _scaledX.Pointer;
        for (int i = 0; i < k; i++)
        {
            xs[i] = x[i] * HalfVectors.Two112;
        }
        return xs;
    }

    // one token, four rows starting at w (x is pre-scaled when _scaledHalves, which only single-token calls set)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void DecodeQuad(byte* w, float* x, int k, float* y)
    {
        if (_scaledHalves)
        {
            DecodeKernels.F16Scaled(w, _w.RowBytes, x, k, y);
        }
        else
        {
            DecodeKernels.Quad(_w.Type, w, _w.RowBytes, x, k, y);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int index)
    {
        int r0 = index * _rowsPerTask;
        int r1 = Math.Min(_w.Rows, r0 + _rowsPerTask);
        int k = _w.Columns;
        if (_w.IntegerDots)
        {
            IntegerRows(r0, r1);
            return;
        }
        if (_w.Rows >= 4 && (_n == 1 ? DecodeKernels.Supports(_w.Type, k) : BatchDecodeKernels.Supports(_w.Type, k, _n)))
        {
            FewTokens(r0, r1, k);
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

    // rows r0..r1 for one token or a handful: four rows by four tokens at a time, leftover tokens one at
    // a time, leftover rows as the last four rows (recomputing some gives the same values)
    private void FewTokens(int r0, int r1, int k)
    {
        float* tmp = stackalloc float[16];
        for (int r = r0; r < r1; r += 4)
        {
            bool whole = r + 4 <= r1;
            int start = whole ? r : Math.Max(0, r1 - 4);
            byte* w = _w.Row(start);
            int t = 0;
            for (; t + 4 <= _n; t += 4)
            {
                float* x = _x + (long)t * k;
                if (whole)
                {
                    BatchDecodeKernels.Tile(w, _w.RowBytes, x, k, _y + (long)t * _yStride + r, _yStride);
                    continue;
                }
                BatchDecodeKernels.Tile(w, _w.RowBytes, x, k, tmp, 4);
                for (int j = 0; j < 4; j++)
                {
                    for (int i = r; i < r1; i++)
                    {
                        _y[(long)(t + j) * _yStride + i] = tmp[j * 4 + i - start];
                    }
                }
            }
            for (; t < _n; t++)
            {
                float* x = _x + (long)t * k;
                float* y = _y + (long)t * _yStride;
                if (whole)
                {
                    DecodeQuad(w, x, k, y + r);
                    continue;
                }
                DecodeQuad(w, x, k, tmp);
                for (int i = r; i < r1; i++)
                {
                    y[i] = tmp[i - start];
                }
            }
        }
    }

    // Q4_0 / Q8_0 / Q4_K / Q6_K: one packed 16-row group at a time for every token (tasks start on multiples of
    // 16); the matrix's last rows, when not a whole group, come from the group packed from its last 16 rows
    private void IntegerRows(int r0, int r1)
    {
        var type = _w.Type;
        int blocks = _w.Columns / Quantization.GgmlTypeInfo.BlockElements(type);
        if (_packed == null)
        {
            for (int r = r0; r < r1; r++)
            {
                for (int t = 0; t < _n; t++)
                {
                    _y[(long)t * _yStride + r] = type switch
                    {
                        Quantization.GgmlType.Q4_0 => Q4_0Kernels.Dot(_w.Row(r), blocks, _blocks, t),
                        Quantization.GgmlType.Q8_0 => Q8_0Kernels.Dot(_w.Row(r), blocks, _blocks, t),
                        Quantization.GgmlType.Q4_K => Q4_KKernels.Dot(_w.Row(r), blocks, _kBlocks, t),
                        _ => Q6_KKernels.Dot(_w.Row(r), blocks, _kBlocks, t),
                    };
                }
            }
            return;
        }
        long groupBytes = (long)blocks * PackedGroups.BlockBytes(type);
        int slot = _scratch.Rent(16L * _n + Math.Max(Q6_KKernels.ScratchFloats(_n), Q4_KKernels.ScratchFloats(_n)), out float* part);
        try
        {
            float* acc = part + 16L * _n;
            for (int g = r0; g < r1; g += 16)
            {
                byte* group = _packed + g / 16 * groupBytes;
                bool whole = g + 16 <= _w.Rows;
                float* y = whole ? _y + g : part;
                long stride = whole ? _yStride : 16;
                switch (type)
                {
                    case Quantization.GgmlType.Q4_0: Q4_0Kernels.Rows16(group, blocks, _blocks, acc, y, stride); break;
                    case Quantization.GgmlType.Q8_0: Q8_0Kernels.Rows16(group, blocks, _blocks, acc, y, stride); break;
                    case Quantization.GgmlType.Q4_K: Q4_KKernels.Rows16(group, blocks, _kBlocks, acc, y, stride); break;
                    default: Q6_KKernels.Rows16(group, blocks, _kBlocks, acc, y, stride); break;
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
        _scaledX?.Dispose();
    }
}
