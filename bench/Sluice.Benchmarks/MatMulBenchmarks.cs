using BenchmarkDotNet.Attributes;
using Sluice.Engine.Kernels;
using Sluice.Engine.Quantization;
using Sluice.Engine.Threading;

namespace Sluice.Benchmarks;

/// <summary>
/// Y = X W^T for each weight type at a qwen2.5-0.5b FFN shape (4864 x 896), for single-token decode,
/// a 16-sequence decode batch and a 128-token prompt chunk, on all cores.
/// </summary>
[MemoryDiagnoser]
public unsafe class MatMulBenchmarks
{
    private KernelData _data = null!;
    private WorkerPool _pool = null!;
    private MatMul _matmul = null!;
    private MatMulInput _input = null!;

    [Params(GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K)]
    public GgmlType Type { get; set; }

    [Params(1, 16, 128)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        int columns = Type is GgmlType.Q4_K or GgmlType.Q6_K ? 1024 : 896;
        _data = new KernelData(Type, 4864, columns, Tokens);
        _pool = new WorkerPool(WorkerPool.DefaultThreadCount);
        _matmul = new MatMul(_pool);
        _input = new MatMulInput();
    }

    [Benchmark]
    public void MatMul()
    {
        _input.Set(_data.X.Pointer, Tokens, _data.Columns);
        _matmul.Run(_data.Matrix, _input, _data.Y.Pointer, _data.Rows);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _matmul.Dispose();
        _input.Dispose();
        _pool.Dispose();
        _data.Dispose();
    }
}
