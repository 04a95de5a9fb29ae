using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Sluice.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
