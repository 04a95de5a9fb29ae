using System.Diagnostics;
using System.Runtime.Intrinsics;
using Sluice.Engine.Kernels;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Benchmarks;

/// <summary>
/// Measures read bandwidth the way decode uses memory: every thread streams its share of a buffer far
/// larger than the caches with wide loads, from huge pages as the packed weights are. Best of several passes,
/// in GB/s (10^9 bytes).
/// </summary>
public sealed unsafe class MemoryBandwidth : IParallelWork
{
    private const long ChunkBytes = 1 << 20;
    private byte* _data;
    private readonly long[] _sinks = new long[256];

    public static double Measure(WorkerPool pool, long bytes = 1L << 30, int passes = 5)
    {
        using var buffer = new NativeBuffer<byte>(bytes, hugePages: true);
        new Span<byte>(buffer.Pointer, (int)Math.Min(bytes, int.MaxValue)).Fill(1);
        for (long off = int.MaxValue; off < bytes; off += int.MaxValue)
        {
            new Span<byte>(buffer.Pointer + off, (int)Math.Min(bytes - off, int.MaxValue)).Fill(1);
        }
        var work = new MemoryBandwidth { _data = buffer.Pointer };
        int chunks = (int)(bytes / ChunkBytes);
        double best = 0;
        for (int p = 0; p < passes; p++)
        {
            var sw = Stopwatch.StartNew();
            pool.Run(work, chunks);
            double gbps = chunks * (double)ChunkBytes / sw.Elapsed.TotalSeconds / 1e9;
            best = Math.Max(best, gbps);
        }
        return best;
    }

    public void Execute(int index)
    {
        byte* p = _data + index * ChunkBytes;
        if (Simd.Use512)
        {
            var wide = Vector512<byte>.Zero;
            for (long i = 0; i < ChunkBytes; i += 256)
            {
                wide |= Vector512.Load(p + i) ^ Vector512.Load(p + i + 64) ^ Vector512.Load(p + i + 128) ^ Vector512.Load(p + i + 192);
            }
            _sinks[index & 255] += wide.GetElement(0);
            return;
        }
        var acc = Vector256<byte>.Zero;
        for (long i = 0; i < ChunkBytes; i += 128)
        {
            acc |= Vector256.Load(p + i) ^ Vector256.Load(p + i + 32) ^ Vector256.Load(p + i + 64) ^ Vector256.Load(p + i + 96);
        }
        _sinks[index & 255] += acc.GetElement(0);
    }
}
