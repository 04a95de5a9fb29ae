using BenchmarkDotNet.Attributes;
using Sluice.Engine.Caching;
using Sluice.Engine.Kernels;
using Sluice.Engine.Kernels.Gemm;
using Sluice.Engine.Quantization;
using Sluice.Engine.Threading;

namespace Sluice.Benchmarks;

/// <summary>The single-threaded building blocks: expansion, the GEMM tile, activation rounding, norms, RoPE, SiLU, attention.</summary>
public unsafe class KernelBenchmarks
{
    private const int K = 896;
    private KernelData _q8 = null!;
    private KernelData _q4k = null!;
    private NativeBuffer<float> _buf = null!;
    private NativeBuffer<float> _tile = null!;
    private PagedKvCache _cache = null!;
    private WorkerPool _pool = null!;
    private Attention _attention = null!;
    private int[][] _tables = null!;
    private int[] _positions = null!;
    private NativeBuffer<float> _promptQ = null!;
    private NativeBuffer<float> _promptOut = null!;
    private int[][] _promptTables = null!;
    private int[] _promptPositions = null!;
    private const int PromptTokens = 256;

    [GlobalSetup]
    public void Setup()
    {
        _q8 = new KernelData(GgmlType.Q8_0, 16, K, 4);
        _q4k = new KernelData(GgmlType.Q4_K, 16, 1024, 4);
        _buf = new NativeBuffer<float>(16 * 1024);
        _tile = new NativeBuffer<float>(16);
        _cache = new PagedKvCache(1, 2, 64, 16, 64, KvCacheType.F16);
        _pool = new WorkerPool(1);
        _attention = new Attention();
        _tables = [Enumerable.Range(0, 64).ToArray()];
        _positions = [1000];
        // a 256-token prompt of one sequence (qwen2.5-0.5b's heads): tiles of 16 tokens per KV head
        _promptQ = new NativeBuffer<float>(PromptTokens * 14 * 64);
        _promptOut = new NativeBuffer<float>(PromptTokens * 14 * 64);
        new Span<float>(_promptQ.Pointer, PromptTokens * 14 * 64).Fill(0.01f);
        _promptPositions = Enumerable.Range(0, PromptTokens).ToArray();
        _promptTables = Enumerable.Repeat(_tables[0], PromptTokens).ToArray();
    }

    [Benchmark]
    public void ExpandQ8_0Row() => RowDequantizer.Dequantize(GgmlType.Q8_0, _q8.Weights.Pointer, 0, K, _buf.Pointer);

    [Benchmark]
    public void ExpandQ4_KRow() => RowDequantizer.Dequantize(GgmlType.Q4_K, _q4k.Weights.Pointer, 0, 1024, _buf.Pointer);

    [Benchmark]
    public void GemmTile4x4() => FloatGemm.Tile4x4(_q8.X.Pointer, K, _q8.X.Pointer, K, K, _tile.Pointer);

    // one token into the block-major Q8_0 layout the integer kernels read (values, int16 copies, scales, sums)
    [Benchmark]
    public void ActivationBlocksQ8_0()
    {
        byte* b = (byte*)_buf.Pointer;
        ActivationQuantizer.QuantizeRowBlockMajor(_q8.X.Pointer, K, 0, 1, (sbyte*)b, (short*)(b + K), (float*)(b + 3 * K), (int*)(b + 4 * K));
    }

    [Benchmark]
    public void RmsNorm() => Norms.RmsNorm(_q8.X.Pointer, _q8.X.Pointer + K, _buf.Pointer, K, 1e-6f);

    [Benchmark]
    public void SiluMul() => Activations.SiluMul(_q8.X.Pointer, _q8.X.Pointer + K, _buf.Pointer, K);

    [Benchmark]
    public void Rope()
    {
        float* cos = _tile.Pointer, sin = _tile.Pointer + 8;
        Sluice.Engine.Kernels.Rope.Apply(_buf.Pointer, 14, 64, cos, sin, RopeLayout.NeoX);
    }

    [Benchmark]
    public void AttentionOneTokenAt1000() => _attention.Run(_pool, _cache, 0, _q8.X.Pointer, _buf.Pointer, 1, 14, _positions, _tables);

    [Benchmark]
    public void AttentionPrompt256() =>
        _attention.Run(_pool, _cache, 0, _promptQ.Pointer, _promptOut.Pointer, PromptTokens, 14, _promptPositions, _promptTables);

    [GlobalCleanup]
    public void Cleanup()
    {
        _q8.Dispose();
        _q4k.Dispose();
        _buf.Dispose();
        _tile.Dispose();
        _cache.Dispose();
        _pool.Dispose();
        _promptQ.Dispose();
        _promptOut.Dispose();
    }
}
