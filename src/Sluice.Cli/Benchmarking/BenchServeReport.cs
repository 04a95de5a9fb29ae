using System.Globalization;
using System.Text.Json;

namespace Sluice.Cli.Benchmarking;

/// <summary>The figures of one run, printed as vLLM's table or as JSON.</summary>
internal sealed record BenchServeReport(
    int Completed, int Errors, int Concurrency, int NumPrompts, double DurationS, long InputTokens, long OutputTokens,
    LatencySummary Ttft, LatencySummary Tpot, LatencySummary Itl, LatencySummary E2e)
{
    public double RequestsPerS => Completed / DurationS;
    public double OutputTokensPerS => OutputTokens / DurationS;
    public double TotalTokensPerS => (InputTokens + OutputTokens) / DurationS;

    public static BenchServeReport From(RequestResult[] results, double duration, int concurrency, int numPrompts)
    {
        var ok = results.Where(r => r.Ok).ToArray();
        return new BenchServeReport(ok.Length, results.Length - ok.Length, concurrency, numPrompts, Math.Max(duration, 1e-9),
            ok.Sum(r => (long)r.PromptTokens), ok.Sum(r => (long)r.OutputTokens),
            LatencySummary.FromSeconds(ok.Select(r => r.Ttft)),
            LatencySummary.FromSeconds(ok.Where(r => r.Tpot.HasValue).Select(r => r.Tpot!.Value)),
            LatencySummary.FromSeconds(ok.SelectMany(r => r.Itl)),
            LatencySummary.FromSeconds(ok.Select(r => r.E2e)));
    }

    public string ToJson()
    {
        static Dictionary<string, double> Summary(LatencySummary s) => new()
        {
            ["mean"] = Math.Round(s.Mean, 3),
            ["p50"] = Math.Round(s.P50, 3),
            ["p90"] = Math.Round(s.P90, 3),
            ["p99"] = Math.Round(s.P99, 3),
        };
        var obj = new Dictionary<string, object>
        {
            ["completed"] = Completed,
            ["errors"] = Errors,
            ["concurrency"] = Concurrency,
            ["num_prompts"] = NumPrompts,
            ["duration_s"] = Math.Round(DurationS, 3),
            ["input_tokens"] = InputTokens,
            ["output_tokens"] = OutputTokens,
            ["requests_per_s"] = Math.Round(RequestsPerS, 3),
            ["output_tokens_per_s"] = Math.Round(OutputTokensPerS, 3),
            ["total_tokens_per_s"] = Math.Round(TotalTokensPerS, 3),
            ["ttft_ms"] = Summary(Ttft),
            ["tpot_ms"] = Summary(Tpot),
            ["itl_ms"] = Summary(Itl),
            ["e2e_ms"] = Summary(E2e),
        };
        return JsonSerializer.Serialize(obj);
    }

    public string ToText()
    {
        var w = new StringWriter(CultureInfo.InvariantCulture);
        void Line(string label, string value) => w.WriteLine($"{label,-40}{value,12}");
        void Section(string title, string key, LatencySummary s)
        {
            w.WriteLine(("-- " + title + " ").PadRight(50, '-'));
            Line($"Mean {key} (ms):", s.Mean.ToString("F2", CultureInfo.InvariantCulture));
            Line($"P50 {key} (ms):", s.P50.ToString("F2", CultureInfo.InvariantCulture));
            Line($"P90 {key} (ms):", s.P90.ToString("F2", CultureInfo.InvariantCulture));
            Line($"P99 {key} (ms):", s.P99.ToString("F2", CultureInfo.InvariantCulture));
        }
        w.WriteLine("============ Serving Benchmark Result ============");
        Line("Successful requests:", Completed.ToString(CultureInfo.InvariantCulture));
        Line("Failed requests:", Errors.ToString(CultureInfo.InvariantCulture));
        Line("Maximum concurrency:", Concurrency.ToString(CultureInfo.InvariantCulture));
        Line("Benchmark duration (s):", DurationS.ToString("F2", CultureInfo.InvariantCulture));
        Line("Total input tokens:", InputTokens.ToString(CultureInfo.InvariantCulture));
        Line("Total generated tokens:", OutputTokens.ToString(CultureInfo.InvariantCulture));
        Line("Request throughput (req/s):", RequestsPerS.ToString("F2", CultureInfo.InvariantCulture));
        Line("Output token throughput (tok/s):", OutputTokensPerS.ToString("F2", CultureInfo.InvariantCulture));
        Line("Total token throughput (tok/s):", TotalTokensPerS.ToString("F2", CultureInfo.InvariantCulture));
        Section("Time to First Token", "TTFT", Ttft);
        Section("Time per Output Token (excl. 1st token)", "TPOT", Tpot);
        Section("Inter-token Latency", "ITL", Itl);
        Section("End-to-end Latency", "E2E", E2e);
        w.Write("==================================================");
        return w.ToString();
    }
}
