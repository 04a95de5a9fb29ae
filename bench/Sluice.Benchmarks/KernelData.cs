using Sluice.Engine.Kernels;
using Sluice.Engine.Quantization;

namespace Sluice.Benchmarks;

/// <summary>Random weights of a given type and random activations, in native memory.</summary>
internal sealed unsafe class KernelData : IDisposable
{
    public KernelData(GgmlType type, int rows, int columns, int tokens)
    {
        var rng = new Random(1);
        Rows = rows;
        Columns = columns;
        long rowBytes = GgmlTypeInfo.RowBytes(type, columns);
        Weights = new NativeBuffer<byte>(rowBytes * rows);
        var f = new float[columns];
        var bytes = new byte[rowBytes];
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < columns; i++)
            {
                f[i] = (float)(rng.NextDouble() - 0.5);
            }
            Quantizer.Quantize(type, f, bytes);
            bytes.CopyTo(new Span<byte>(Weights.Pointer + r * rowBytes, (int)rowBytes));
        }
        X = new NativeBuffer<float>((long)tokens * columns);
        for (long i = 0; i < (long)tokens * columns; i++)
        {
            X.Pointer[i] = (float)(rng.NextDouble() - 0.5);
        }
        Y = new NativeBuffer<float>((long)tokens * rows);
        Matrix = new WeightMatrix("bench", type, rows, columns, Weights.Pointer);
    }

    public int Rows { get; }
    public int Columns { get; }
    public NativeBuffer<byte> Weights { get; }
    public NativeBuffer<float> X { get; }
    public NativeBuffer<float> Y { get; }
    public WeightMatrix Matrix { get; }

    public void Dispose()
    {
        Weights.Dispose();
        X.Dispose();
        Y.Dispose();
    }
}
