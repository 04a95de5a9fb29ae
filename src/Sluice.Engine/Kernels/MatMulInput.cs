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
    private readonly NativeBuffer<float> _bf16 = new(0);
    // Q8_0 blocks, block-major (Q8Blocks): values, the same as int16, scales, sums
    private readonly NativeBuffer<sbyte> _blockValues = new(0);
    private readonly NativeBuffer<short> _blockWide = new(0);
    private readonly NativeBuffer<float> _blockScales = new(0);
    private readonly NativeBuffer<int> _blockSums = new(0);
    // Q8_K blocks, block-major (Q8KBlocks): values, values + 128, sums of 32, scales
    private readonly NativeBuffer<sbyte> _kSigned = new(0);
    private readonly NativeBuffer<byte> _kValues = new(0);
    private readonly NativeBuffer<short> _kSums = new(0);
    private readonly NativeBuffer<float> _kScales = new(0);
    private bool _hasF16, _hasBF16, _hasBlocks, _hasKBlocks;
    private bool _preparingBlocks, _preparingKBlocks;
    private ActivationKind _preparing;

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
        _hasF16 = _hasBF16 = _hasBlocks = _hasKBlocks = false;
    }

    /// <summary>The rows quantized to Q8_K blocks for integer dot products with K-quant weights.</summary>
    public Q8KBlocks Q8_KBlocks(WorkerPool pool)
    {
        if (!_hasKBlocks)
        {
            if (Columns % 256 != 0)
            {
                throw new InvalidOperationException($"Q8_K blocks need a multiple of 256 columns, not {Columns}");
            }
            long blocks = (long)Rows * (Columns / 256);
            _kSigned.EnsureCapacity(blocks * 256);
            _kValues.EnsureCapacity(blocks * 256);
            _kSums.EnsureCapacity(blocks * 8);
            _kScales.EnsureCapacity(blocks);
            _preparingKBlocks = true;
            try
            {
                pool.Run(this, Rows);
            }
            finally
            {
                _preparingKBlocks = false;
            }
            _hasKBlocks = true;
        }
        return new Q8KBlocks(_kSigned.Pointer, _kValues.Pointer, _kSums.Pointer, _kScales.Pointer, Rows);
    }

    /// <summary>The rows quantized to Q8_0 blocks for integer dot products (llama.cpp's activation rounding).</summary>
    public Q8Blocks Q8_0Blocks(WorkerPool pool)
    {
        if (!_hasBlocks)
        {
            if (Columns % 32 != 0)
            {
                throw new InvalidOperationException($"Q8_0 blocks need a multiple of 32 columns, not {Columns}");
            }
            long blocks = (long)Rows * (Columns / 32);
            _blockValues.EnsureCapacity(blocks * 32);
            _blockWide.EnsureCapacity(blocks * 32);
            _blockScales.EnsureCapacity(blocks);
            _blockSums.EnsureCapacity(blocks);
            _preparingBlocks = true;
            try
            {
                pool.Run(this, Rows);
            }
            finally
            {
                _preparingBlocks = false;
            }
            _hasBlocks = true;
        }
        return new Q8Blocks(_blockValues.Pointer, _blockWide.Pointer, _blockScales.Pointer, _blockSums.Pointer, Rows);
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
                Ensure(ref _hasF16, kind, pool);
                return _f16.Pointer;
            case ActivationKind.BF16Rounded:
                Ensure(ref _hasBF16, kind, pool);
                return _bf16.Pointer;
            default:
                return X;
        }
    }

    private void Ensure(ref bool done, ActivationKind kind, WorkerPool pool)
    {
        if (done)
        {
            return;
        }
        switch (kind)
        {
            case ActivationKind.F16Rounded: _f16.EnsureCapacity((long)Rows * Columns); break;
            case ActivationKind.BF16Rounded: _bf16.EnsureCapacity((long)Rows * Columns); break;
        }
        _preparing = kind;
        pool.Run(this, Rows);
        done = true;
    }

    /// <summary>Converts row <paramref name="index"/> into the form being prepared.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int index)
    {
        float* x = X + (long)index * Columns;
        if (_preparingKBlocks)
        {
            ActivationQuantizer.QuantizeRowBlockMajorQ8K(x, Columns, index, Rows, _kSigned.Pointer, _kValues.Pointer, _kSums.Pointer, _kScales.Pointer);
            return;
        }
        if (_preparingBlocks)
        {
            ActivationQuantizer.QuantizeRowBlockMajor(x, Columns, index, Rows, _blockValues.Pointer, _blockWide.Pointer, _blockScales.Pointer, _blockSums.Pointer);
            return;
        }
        switch (_preparing)
        {
            case ActivationKind.F16Rounded:
                {
                    HalfVectors.RoundToHalfRow(x, _f16.Pointer + (long)index * Columns, Columns);
                    break;
                }
            case ActivationKind.BF16Rounded:
                {
                    HalfVectors.RoundToBF16Row(x, _bf16.Pointer + (long)index * Columns, Columns);
                    break;
                }
        }
    }

    public void Dispose()
    {
        _f16.Dispose();
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
