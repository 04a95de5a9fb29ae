using System.Runtime.CompilerServices;
using Sluice.Engine.Kernels.Tiles;
using Sluice.Engine.Quantization;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Kernels;

/// <summary>
/// Y (n, rows) = X (n, columns) @ W^T for any supported weight type, spread over the worker pool by
/// chunks of weight rows. Each chunk walks its rows once and serves every input row from them, so a
/// weight row is read from memory once per call however many tokens the batch holds.
/// </summary>
public sealed unsafe class MatMul : IParallelWork
{
    // Each task takes a contiguous run of rows. Few, long runs let the hardware prefetchers stream a
    // weight matrix at full bandwidth (many 15 KB runs interleaved between threads measured 40 % slower
    // on decode); 4 tasks per thread still balance uneven progress.
    private const int TasksPerThread = 4;
    private const int MinRowsPerTask = 16;
    private int _rowsPerTask = MinRowsPerTask;

    private readonly WorkerPool _pool;
    private WeightMatrix _w = null!;
    private float* _x;
    private QuantizedActivations? _q;
    private float* _y;
    private int _n;
    private int _yStride;

    public MatMul(WorkerPool pool)
    {
        _pool = pool;
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
        var kind = w.Activation;
        if (kind is ActivationKind.Q8_0 or ActivationKind.Q8_K)
        {
            _q = input.Quantized(kind, _pool);
            _x = null;
        }
        else
        {
            _q = null;
            _x = input.Floats(kind, _pool);
        }
        int rows = (w.Rows + _pool.ThreadCount * TasksPerThread - 1) / (_pool.ThreadCount * TasksPerThread);
        _rowsPerTask = Math.Max(MinRowsPerTask, (rows + 3) / 4 * 4);
        _pool.Run(this, (w.Rows + _rowsPerTask - 1) / _rowsPerTask);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int index)
    {
        int r0 = index * _rowsPerTask;
        int r1 = Math.Min(_w.Rows, r0 + _rowsPerTask);
        if (Simd.Use512 && _q != null)
        {
            switch (_w.Type)
            {
                case GgmlType.Q8_0:
                    RunTiles<BlockPairTiles<Q8_0Format>>(r0, r1);
                    return;
                case GgmlType.Q4_0:
                    RunTiles<BlockPairTiles<Q4_0Format>>(r0, r1);
                    return;
                case GgmlType.Q4_K:
                    RunTiles<SuperBlockTiles<Q4_KFormat>>(r0, r1);
                    return;
                case GgmlType.Q6_K:
                    RunTiles<SuperBlockTiles<Q6_KFormat>>(r0, r1);
                    return;
            }
        }
        int k = _w.Columns;
        for (int r = r0; r < r1; r++)
        {
            byte* row = _w.Row(r);
            for (int t = 0; t < _n; t++)
            {
                _y[(long)t * _yStride + r] = Dot(row, t, k);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunTiles<TKernel>(int r0, int r1) where TKernel : IQuantTileKernel
    {
        var q = _q!;
        int rows = TKernel.TileRows, tokens = TKernel.TileTokens;
        int r = r0;
        for (; r + rows <= r1; r += rows)
        {
            int t = 0;
            for (; t + tokens <= _n; t += tokens)
            {
                TKernel.TileFull(_w, r, q, t, _y, _yStride);
            }
            for (; t < _n; t++)
            {
                TKernel.TileRowsX1(_w, r, q, t, _y, _yStride);
            }
        }
        for (; r < r1; r++)
        {
            for (int t = 0; t < _n; t++)
            {
                TKernel.Tile1x1(_w, r, q, t, _y, _yStride);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private float Dot(byte* row, int t, int k)
    {
        switch (_w.Type)
        {
            case GgmlType.F32: return FloatDot.F32((float*)row, _x + (long)t * k, k);
            case GgmlType.F16: return FloatDot.F16((ushort*)row, _x + (long)t * k, k);
            case GgmlType.BF16: return FloatDot.BF16((ushort*)row, _x + (long)t * k, k);
            case GgmlType.Q8_0: return QuantDot.Q8_0(row, _q!.Qs(t), _q.Scales(t), k / 32);
            case GgmlType.Q4_0: return QuantDot.Q4_0(row, _q!.Qs(t), _q.Scales(t), _q.Sums(t), k / 32);
            case GgmlType.Q4_K: return QuantDot.Q4_K(row, _q!.Qs(t), _q.Scales(t), _q.Sums(t), k / 256);
            case GgmlType.Q6_K: return QuantDot.Q6_K(row, _q!.Qs(t), _q.Scales(t), _q.Sums(t), k / 256);
            default: throw new NotSupportedException(_w.Type.ToString());
        }
    }
}
