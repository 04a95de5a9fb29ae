using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Sluice.Cli.Options;
using Sluice.Engine.Benchmarks;
using Sluice.Engine.Kernels;
using Sluice.Engine.Models;
using Sluice.Engine.Threading;

namespace Sluice.Cli.Commands;

/// <summary>`sluice bench ...`: measurements that print their figures.</summary>
internal static class BenchCommands
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks: engine kernels (llama-bench's pp/tg), serving throughput, soak and the gateway's own cost.");
        bench.Subcommands.Add(CreateEngine());
        bench.Subcommands.Add(BenchThroughputCommand.Create());
        bench.Subcommands.Add(BenchServeCommand.Create());
        bench.Subcommands.Add(BenchSoakCommand.Create());
        bench.Subcommands.Add(BenchGatewayCommand.Create());
        return bench;
    }

    private static Command CreateEngine()
    {
        var model = new Option<string?>("--model", "-m") { Description = "Model file (default: the built-in demo model)" };
        var threads = Flags.OptionalInt("--threads", 1, WorkerPool.MaxThreads, "Kernel threads (default: all cores)", "-t");
        var batches = new Option<string>("--batch") { Description = $"Sequence counts for aggregate decode, 1 to {EngineBenchmark.MaxSequences} each", DefaultValueFactory = _ => "4,16,64" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var reps = Flags.Int("--repetitions", 3, 1, MaxRepetitions, "Timed runs per measurement, after a warm-up (the median is reported)", "-r");
        var profile = new Option<bool>("--profile") { Description = "Also print where the time goes (per phase) for pp512, tg128 and each --batch decode" };
        var cmd = new Command("engine", "Prompt processing (pp128, pp512), decode (tg128), batched decode and memory bandwidth.")
        {
            model, threads, batches, json, reps, profile,
        };
        cmd.SetAction(parse =>
        {
            var o = parse.InvocationConfiguration.Output;
            var e = parse.InvocationConfiguration.Error;
            return CliErrors.Run(parse, () =>
            {
                var seqCounts = ParseBatches(parse.GetValue(batches)!);
                int r = parse.GetValue(reps);
                using var loaded = ModelSource.Load(parse.GetValue(model), e);
                int t = parse.GetValue(threads) ?? WorkerPool.DefaultThreadCount;
                using var b = new EngineBenchmark(loaded, t, maxSeqs: seqCounts.Max());
                e.WriteLine($"sluice bench engine: {loaded.Name}, {loaded.WeightBytes / 1e6:F0} MB of weights per token, {t} threads, kernels {Simd.Path} ({Simd.Describe()}) on {CpuInfo.Model}");
                double membw = b.MeasureBandwidth();
                double pp128 = b.PromptProcessing(128, r);
                double pp512 = b.PromptProcessing(512, r);
                double tg128 = b.Decode(1, 128, r);
                var batched = seqCounts.ToDictionary(n => n, n => b.Decode(n, 128, Math.Max(1, r - 1)));
                double fraction = tg128 * loaded.WeightBytes / (membw * 1e9);
                if (parse.GetValue(profile))
                {
                    var runs = new List<(string, Action)> { ("pp512", () => b.PromptProcessing(512, 1)), ("tg128", () => b.Decode(1, 128, 1)) };
                    runs.AddRange(seqCounts.Select(n => ($"decode x{n}", (Action)(() => b.Decode(n, 128, 1)))));
                    foreach (var (label, run) in runs)
                    {
                        var p = new ForwardProfile();
                        b.Profile = p;
                        run();
                        b.Profile = null;
                        double total = p.Phases.Sum(x => x.Seconds);
                        e.WriteLine($"profile {label} ({total * 1000:F0} ms): " + string.Join(", ", p.Phases.Where(x => x.Seconds > 0).Select(x => $"{x.Phase} {x.Seconds / total:P0}")));
                    }
                }
                if (parse.GetValue(json))
                {
                    var obj = new Dictionary<string, object>
                    {
                        ["model"] = loaded.Name,
                        ["threads"] = t,
                        ["pp128"] = Math.Round(pp128, 2),
                        ["pp512"] = Math.Round(pp512, 2),
                        ["tg128"] = Math.Round(tg128, 2),
                        ["batch_decode"] = batched.ToDictionary(kv => kv.Key.ToString(CultureInfo.InvariantCulture), kv => Math.Round(kv.Value, 2)),
                        ["membw_gbps"] = Math.Round(membw, 2),
                        ["decode_bw_fraction"] = Math.Round(fraction, 3),
                    };
                    o.WriteLine(JsonSerializer.Serialize(obj));
                }
                else
                {
                    o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| model | threads | pp128 t/s | pp512 t/s | tg128 t/s | {string.Join(" | ", seqCounts.Select(n => $"decode x{n} t/s"))} | membw GB/s | tg128 / bw limit |"));
                    o.WriteLine("|---|---:|---:|---:|---:|" + string.Concat(seqCounts.Select(_ => "---:|")) + "---:|---:|");
                    o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {loaded.Name} | {t} | {pp128:F1} | {pp512:F1} | {tg128:F1} | {string.Join(" | ", seqCounts.Select(n => batched[n].ToString("F1", CultureInfo.InvariantCulture)))} | {membw:F1} | {fraction:P0} |"));
                }
                return 0;
            });
        });
        return cmd;
    }

    /// <summary>Most --repetitions: each is a full pp512 and tg128 (and more), so more is a hang, not a measurement.</summary>
    internal const int MaxRepetitions = 1000;

    /// <summary>--batch: a comma-separated list of distinct sequence counts, each 1 to <see cref="EngineBenchmark.MaxSequences"/>.</summary>
    internal static int[] ParseBatches(string text)
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries);
        if (items.Length > 64)
        {
            throw new ArgumentException($"--batch lists {items.Length} sequence counts; at most 64");
        }
        var counts = new List<int>();
        foreach (var item in items)
        {
            if (item.Length == 0)
            {
                throw new ArgumentException($"--batch '{text}' has an empty item: list sequence counts such as 4,16,64");
            }
            if (!int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1 || n > EngineBenchmark.MaxSequences)
            {
                throw new ArgumentException($"--batch item '{item}' must be a whole number from 1 to {EngineBenchmark.MaxSequences}");
            }
            if (counts.Contains(n))
            {
                throw new ArgumentException($"--batch lists {n} twice");
            }
            counts.Add(n);
        }
        return [.. counts];
    }
}
