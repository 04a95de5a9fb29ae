using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Sluice.Cli.Benchmarking;

/// <summary>
/// `bench serve --json-schema S --compare-json-schema 1,16`: the same prompts at each concurrency, first free, then under
/// the schema (response_format json_schema), so the constraint's cost on decode throughput reads off one run. A
/// constrained answer may end before --output-len when its grammar is complete; throughput counts the tokens made.
/// </summary>
internal sealed class SchemaComparison(HttpClient http, LoadSettings settings, string responseFormat)
{
    public sealed record Row(int Concurrency, BenchServeReport Free, BenchServeReport Constrained)
    {
        /// <summary>Constrained over free output tokens/s (1 is free of cost).</summary>
        public double Ratio => Free.OutputTokensPerS > 0 ? Constrained.OutputTokensPerS / Free.OutputTokensPerS : 0;
    }

    public async Task<List<Row>> RunAsync(int[] concurrencies, string[] prompts, TextWriter log, CancellationToken ct)
    {
        var rows = new List<Row>();
        foreach (int c in concurrencies)
        {
            var free = await OneAsync(settings with { Concurrency = c }, prompts, log, "free", ct);
            var constrained = await OneAsync(settings with { Concurrency = c, ResponseFormat = responseFormat }, prompts, log, "json_schema", ct);
            rows.Add(new Row(c, free, constrained));
        }
        return rows;
    }

    private async Task<BenchServeReport> OneAsync(LoadSettings s, string[] prompts, TextWriter log, string label, CancellationToken ct)
    {
        log.WriteLine($"sluice bench serve: {prompts.Length} requests, concurrency {s.Concurrency}, {label}");
        var watch = Stopwatch.StartNew();
        var results = await new ServeLoadGenerator(http, s).RunAsync(prompts, _ => { }, ct);
        foreach (var error in results.Where(r => !r.Ok).Select(r => r.Error).Distinct().Take(3))
        {
            log.WriteLine($"error ({label}, concurrency {s.Concurrency}): {error}");
        }
        return BenchServeReport.From(results, watch.Elapsed.TotalSeconds, s.Concurrency, prompts.Length);
    }

    public static string ToText(List<Row> rows)
    {
        var w = new StringWriter(CultureInfo.InvariantCulture);
        w.WriteLine($"{"concurrency",11} {"free tok/s",12} {"schema tok/s",13} {"ratio",7} {"free TPOT ms",13} {"schema TPOT ms",15} {"errors",7}");
        foreach (var r in rows)
        {
            w.WriteLine($"{r.Concurrency,11} {r.Free.OutputTokensPerS,12:F1} {r.Constrained.OutputTokensPerS,13:F1} {r.Ratio,7:F3} " +
                $"{r.Free.Tpot.P50,13:F2} {r.Constrained.Tpot.P50,15:F2} {r.Free.Errors + r.Constrained.Errors,7}");
        }
        return w.ToString().TrimEnd();
    }

    public static string ToJson(List<Row> rows) => JsonSerializer.Serialize(rows.Select(r => new Dictionary<string, object>
    {
        ["concurrency"] = r.Concurrency,
        ["ratio"] = Math.Round(r.Ratio, 4),
        ["free"] = JsonDocument.Parse(r.Free.ToJson()).RootElement,
        ["json_schema"] = JsonDocument.Parse(r.Constrained.ToJson()).RootElement,
    }).ToList());
}
