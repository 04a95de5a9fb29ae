namespace Sluice.Engine.Kernels;

/// <summary>Which integer form the activations of a quantized matmul take.</summary>
public enum ActivationFormat
{
    /// <summary>Blocks of 32: int8 values, a half-rounded float scale and the int sum per block (for Q8_0 and Q4_0 weights).</summary>
    Q8_0,

    /// <summary>Blocks of 256: int8 values, a float scale per block and int sums per 16 values (for K-quant weights).</summary>
    Q8_K,
}

/// <summary>
/// Activation rows quantized to int8 once per matmul input and shared by every weight matrix that
/// reads the same input (q/k/v, gate/up). Struct-of-arrays so kernels load 64 values at a time.
/// </summary>
public sealed unsafe class QuantizedActivations : IDisposable
{
    private readonly NativeBuffer<sbyte> _qs = new(0);
    private readonly NativeBuffer<float> _scales = new(0);
    private readonly NativeBuffer<int> _sums = new(0);
    private readonly NativeBuffer<float> _scaledSums = new(0);

    public ActivationFormat Format { get; private set; }
    public int Rows { get; private set; }
    public int Columns { get; private set; }

    /// <summary>Values per scale: 32 (Q8_0) or 256 (Q8_K).</summary>
    public int BlockSize => Format == ActivationFormat.Q8_0 ? 32 : 256;

    /// <summary>Values per sum: 32 (Q8_0) or 16 (Q8_K).</summary>
    public int SumSize => Format == ActivationFormat.Q8_0 ? 32 : 16;

    // (rows, columns)
    public sbyte* Qs(int row) => _qs.Pointer + (long)row * Columns;

    // (rows, columns / BlockSize)
    public float* Scales(int row) => _scales.Pointer + (long)row * (Columns / BlockSize);

    // (rows, columns / SumSize)
    public int* Sums(int row) => _sums.Pointer + (long)row * (Columns / SumSize);

    /// <summary>Q8_K only: each 16-value sum times its block's scale, (rows, columns / 16), for the K-quant offset corrections.</summary>
    public float* ScaledSums(int row) => _scaledSums.Pointer + (long)row * (Columns / 16);

    /// <summary>Shapes the buffers for <paramref name="rows"/> x <paramref name="columns"/> (columns a multiple of the block size).</summary>
    public void Prepare(ActivationFormat format, int rows, int columns)
    {
        Format = format;
        int block = format == ActivationFormat.Q8_0 ? 32 : 256;
        if (columns % block != 0)
        {
            throw new ArgumentException($"row length {columns} is not a multiple of the {format} block size {block}");
        }
        Rows = rows;
        Columns = columns;
        _qs.EnsureCapacity((long)rows * columns);
        _scales.EnsureCapacity((long)rows * (columns / block));
        _sums.EnsureCapacity((long)rows * (columns / (format == ActivationFormat.Q8_0 ? 32 : 16)));
        if (format == ActivationFormat.Q8_K)
        {
            _scaledSums.EnsureCapacity((long)rows * (columns / 16));
        }
    }

    public void Dispose()
    {
        _qs.Dispose();
        _scales.Dispose();
        _sums.Dispose();
        _scaledSums.Dispose();
    }
}
