using System.Diagnostics;
using BenchmarkDotNet.Running;
using Sluice.Benchmarks;
using Sluice.Engine.Kernels;
using Sluice.Engine.Quantization;
using Sluice.Engine.Threading;

// dotnet run -c Release --project bench/Sluice.Benchmarks -- --filter '*'
// quick: dotnet run -c Release --project bench/Sluice.Benchmarks -- quick TYPE TOKENS [THREADS] [ROWS] [COLUMNS]
//   times one matmul (default the qwen2.5-0.5b FFN up shape, 4864 x 896) for about 3 s and prints GMAC/s, so two
//   builds can be run one after the other in one script.
if (args.Length >= 3 && args[0] == "quick")
{
    var type = Enum.Parse<GgmlType>(args[1], ignoreCase: true);
    int tokens = int.Parse(args[2]);
    int threads = args.Length > 3 ? int.Parse(args[3]) : WorkerPool.DefaultThreadCount;
    int rows = args.Length > 4 ? int.Parse(args[4]) : 4864;
    int columns = args.Length > 5 ? int.Parse(args[5]) : (type is GgmlType.Q4_K or GgmlType.Q6_K ? 1024 : 896);
    using var data = new KernelData(type, rows, columns, tokens);
    using var pool = new WorkerPool(threads);
    using var matmul = new MatMul(pool);
    using var input = new MatMulInput();
    unsafe
    {
        void Once()
        {
            input.Set(data.X.Pointer, tokens, data.Columns);
            matmul.Run(data.Matrix, input, data.Y.Pointer, data.Rows);
        }
        for (var warm = Stopwatch.StartNew(); warm.ElapsedMilliseconds < 1000;)
        {
            Once();
        }
        long runs = 0;
        var clock = Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 3000)
        {
            Once();
            runs++;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        double macs = (double)rows * columns * tokens * runs;
        Console.WriteLine($"{type} {rows}x{columns} tokens {tokens} threads {threads} kernels {Simd.Path}: {seconds / runs * 1e3:F3} ms/run, {macs / seconds / 1e9:F2} GMAC/s");
    }
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
