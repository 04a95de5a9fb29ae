using System.Runtime.CompilerServices;
using Sluice.Engine.Kernels.Gemm;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Kernels;

/// <summary>
/// The input rows of one or more matmuls (for example q, k and v all read the normed hidden state),
/// converted lazily into each form a weight type needs and reused by every matmul that reads it.
/// </summary>
public sealed unsafe class MatMulInput : IDisposable, IParallelWork
{
    private readonly NativeBuffer<float> _f16 = new(0);
    // the F16 form times 2^112 in column-interleaved token tiles (F16Kernels.TileWidth)
    private readonly NativeBuffer<float> _f16Tiles = new(0);
    private readonly NativeBuffer<float> _bf16 = new(0);
    // Q8_0 blocks, block-major (Q8Blocks): values, the same as int16 (not made when the VNNI kernels run), scales, sums
    private readonly NativeBuffer<sbyte> _blockValues = new(0);
    private readonly NativeBuffer<short> _blockWide = new(0);
    private readonly NativeBuffer<float> _blockScales = new(0);
    private readonly NativeBuffer<int> _blockSums = new(0);
    // Q8_K blocks, block-major (Q8KBlocks): values, values + 128, sums of 32, scales
    private readonly NativeBuffer<sbyte> _kSigned = new(0);
    private readonly NativeBuffer<byte> _kValues = new(0);
    private readonly NativeBuffer<short> _kSums = new(0);
    private readonly NativeBuffer<float> _kScales = new(0);
    // forms made since the last Set, as bits of Form; the one a pool run is converting rows into
    private int _made;
    private Form _preparing;
    private int _blocksPerTask = 1;

    private enum Form
    {
        F16 = 1,
        BF16 = 2,
        Q8_0Blocks = 4,
        Q8_KBlocks = 8,
        F16Tiles = 16,
    }

    // (Rows, Columns), row-major
    public float* X { get; private set; }
    public int Rows { get; private set; }
    public int Columns { get; private set; }

    /// <summary>Points at new input rows; every converted form is invalidated.</summary>
    public void Set(float* x, int rows, int columns)
    {
        X = x;
        Rows = rows;
        Columns = columns;
        _made = 0;
    }

    /// <summary>The rows quantized to Q8_K blocks for integer dot products with K-quant weights.</summary>
    public Q8KBlocks Q8_KBlocks(WorkerPool pool)
    {
        Make(Form.Q8_KBlocks, 256, pool);
        return new Q8KBlocks(_kSigned.Pointer, _kValues.Pointer, _kSums.Pointer, _kScales.Pointer, Rows);
    }

    /// <summary>The rows quantized to Q8_0 blocks for integer dot products (llama.cpp's activation rounding).</summary>
    public Q8Blocks Q8_0Blocks(WorkerPool pool)
    {
        Make(Form.Q8_0Blocks, 32, pool);
        return new Q8Blocks(_blockValues.Pointer, _blockWide.Pointer, _blockScales.Pointer, _blockSums.Pointer, Rows);
    }

    /// <summary>
    /// The rows rounded to halves and scaled by 2^112, in the column-interleaved token tiles packed F16
    /// weights multiply with (<see cref="F16Kernels.TileWidth"/>).
    /// </summary>
    public float* F16Tiles(WorkerPool pool)
    {
        Make(Form.F16, 1, pool);
        Make(Form.F16Tiles, 1, pool);
        return _f16Tiles.Pointer;
    }

    /// <summary>
    /// The rows in the float form a float weight type multiplies with: as they are (F32), or rounded to
    /// half or bfloat16 (quantized weights take <see cref="Q8_0Blocks"/> / <see cref="Q8_KBlocks"/>).
    /// </summary>
    public float* Floats(ActivationKind kind, WorkerPool pool)
    {
        switch (kind)
        {
            case ActivationKind.F16Rounded:
                Make(Form.F16, 1, pool);
                return _f16.Pointer;
            case ActivationKind.BF16Rounded:
                Make(Form.BF16, 1, pool);
                return _bf16.Pointer;
            default:
                return X;
        }
    }

    // converts every row into the form once (over the pool), sizing its buffers first
    private void Make(Form form, int block, WorkerPool pool)
    {
        if ((_made & (int)form) != 0)
        {
            return;
        }
        if (Columns % block != 0)
        {
            throw new InvalidOperationException($"{form} needs a multiple of {block} columns, not {Columns}");
        }
        long n = (long)Rows * Columns;
        switch (form)
        {
            case Form.F16:
                _f16.EnsureCapacity(n);
                break;
            case Form.F16Tiles:
                _f16Tiles.EnsureCapacity(n);
                break;
            case Form.BF16:
                _bf16.EnsureCapacity(n);
                break;
            case Form.Q8_0Blocks:
                _blockValues.EnsureCapacity(n);
                if (!Native.VnniKernels.Available)
                {
                    _blockWide.EnsureCapacity(n);
                }
                _blockScales.EnsureCapacity(n / 32);
                _blockSums.EnsureCapacity(n / 32);
                break;
            case Form.Q8_KBlocks:
                _kSigned.EnsureCapacity(n);
                _kValues.EnsureCapacity(n);
                _kSums.EnsureCapacity(n / 32);
                _kScales.EnsureCapacity(n / 256);
                break;
        }
        _preparing = form;
        // F16 tiles are made a tile at a time (Execute's index is a tile); block-major forms a range of blocks of
        // every row at a time (rows of one block share cache lines, so splitting by row would have the threads
        // writing the same lines: 16 rows of 4864 columns took 0.26 ms that way); the rest a row at a time
        int tasks = Rows;
        if (form == Form.F16Tiles)
        {
            tasks = F16Kernels.TileCount(Rows);
        }
        else if (form is Form.Q8_0Blocks or Form.Q8_KBlocks)
        {
            int blocks = Columns / block;
            _blocksPerTask = Math.Max(1, Math.Max((blocks + 4 * pool.ThreadCount - 1) / (4 * pool.ThreadCount), 2048 / block / Math.Max(1, Rows)));
            tasks = (blocks + _blocksPerTask - 1) / _blocksPerTask;
        }
        pool.Run(this, tasks);
        _made |= (int)form;
    }

    /// <summary>Converts row <paramref name="index"/> (F16 tiles: tile <paramref name="index"/>) into the form being prepared.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int index)
    {
        float* x = X + (long)index * Columns;
        switch (_preparing)
        {
            case Form.F16:
                HalfVectors.RoundToHalfRow(x, _f16.Pointer + (long)index * Columns, Columns);
                break;
            case Form.F16Tiles:
                {
                    var (start, width) = F16Kernels.Tile(index, Rows);
                    F16Kernels.Interleave(_f16.Pointer + (long)start * Columns, Columns, width, _f16Tiles.Pointer + (long)start * Columns);
                    break;
                }
            case Form.BF16:
                HalfVectors.RoundToBF16Row(x, _bf16.Pointer + (long)index * Columns, Columns);
                break;
            case Form.Q8_0Blocks:
                {
                    var (b0, b1) = BlockRange(index, 32);
                    short* wide = Native.VnniKernels.Available ? null : _blockWide.Pointer;
                    for (int t = 0; t < Rows; t++)
                    {
                        ActivationQuantizer.QuantizeRowBlockMajor(X + (long)t * Columns, t, Rows, b0, b1, _blockValues.Pointer, wide, _blockScales.Pointer, _blockSums.Pointer);
                    }
                    break;
                }
            case Form.Q8_KBlocks:
                {
                    var (b0, b1) = BlockRange(index, 256);
                    for (int t = 0; t < Rows; t++)
                    {
                        ActivationQuantizer.QuantizeRowBlockMajorQ8K(X + (long)t * Columns, t, Rows, b0, b1, _kSigned.Pointer, _kValues.Pointer, _kSums.Pointer, _kScales.Pointer);
                    }
                    break;
                }
        }
    }

    // the blocks task `index` quantizes (block-major forms)
    private (int First, int End) BlockRange(int index, int block)
    {
        int first = index * _blocksPerTask;
        return (first, Math.Min(Columns / block, first + _blocksPerTask));
    }

    public void Dispose()
    {
        _f16.Dispose();
        _f16Tiles.Dispose();
        _bf16.Dispose();
        _blockValues.Dispose();
        _blockWide.Dispose();
        _kSigned.Dispose();
        _kValues.Dispose();
        _kSums.Dispose();
        _kScales.Dispose();
        _blockScales.Dispose();
        _blockSums.Dispose();
    }
}
