using System.Globalization;
using System.Text.Json;

namespace Sluice.Cli.Benchmarking;

/// <summary>The server's memory as its /metrics reported it: resident set and managed heap, in bytes (null when not exported).</summary>
internal sealed record ServerMemory(double? ResidentBytes, double? HeapBytes);

/// <summary>p50/p99 end-to-end latency of the valid requests that finished in one minute of the run.</summary>
internal sealed record MinuteLatency(int Minute, int Requests, double P50Ms, double P99Ms);

/// <summary>What `sluice bench soak` found: outcomes, whether the server died, its memory before and after, latency per minute.</summary>
internal sealed partial record SoakReport
{
    public required string Url { get; init; }
    public required string Model { get; init; }
    public required double PlannedDurationS { get; init; }
    public required double DurationS { get; init; }
    public required int Concurrency { get; init; }
    public required int Seed { get; init; }
    public required double RequestTimeoutS { get; init; }
    public required int Requests { get; init; }
    public required int Ok { get; init; }
    public required SortedDictionary<int, int> ClientErrors { get; init; }
    public required SortedDictionary<int, int> ServerErrors { get; init; }
    public required int Cancelled { get; init; }
    public required int TransportErrors { get; init; }
    public required int Hangs { get; init; }

    /// <summary>Bad input that got a 2xx: the server accepted what it should have refused.</summary>
    public required int BadInputAccepted { get; init; }

    public required double? DiedAfterS { get; init; }
    public required ServerMemory Start { get; init; }
    public required ServerMemory End { get; init; }
    public required IReadOnlyList<MinuteLatency> Latency { get; init; }

    /// <summary>The first few distinct server errors, transport errors and hangs, each with its request kind.</summary>
    public required IReadOnlyList<string> Errors { get; init; }

    public bool ServerDied => DiedAfterS is not null;

    /// <summary>Why the run failed: any 5xx, any hang, or the server died. Empty: it passed.</summary>
    public IReadOnlyList<string> FailureReasons
    {
        get
        {
            var reasons = new List<string>();
            if (ServerErrors.Count > 0)
            {
                reasons.Add($"{ServerErrors.Values.Sum()} server error(s) (5xx)");
            }
            if (Hangs > 0)
            {
                reasons.Add($"{Hangs} hang(s) (no answer within {RequestTimeoutS:0.#} s)");
            }
            if (ServerDied)
            {
                reasons.Add($"the server died after {DiedAfterS:F1} s");
            }
            return reasons;
        }
    }

    public bool Failed => FailureReasons.Count > 0;

    public static SoakReport From(SoakSettings settings, IReadOnlyCollection<SoakResult> results, double duration, double? diedAfter, ServerMemory start, ServerMemory end)
    {
        static SortedDictionary<int, int> ByStatus(IEnumerable<SoakResult> rs) => new(rs.GroupBy(r => r.Status).ToDictionary(g => g.Key, g => g.Count()));
        var valid = results.Where(r => r.Outcome == SoakOutcome.Ok && r.Kind is SoakKind.Completion or SoakKind.Chat or SoakKind.MultiChoice).ToList();
        int minutes = results.Count == 0 ? 0 : (int)(results.Max(r => r.End) / 60) + 1;
        var latency = Enumerable.Range(0, minutes).Select(m =>
        {
            var sorted = valid.Where(r => (int)(r.End / 60) == m).Select(r => r.LatencyMs).Order().ToArray();
            return sorted.Length == 0
                ? new MinuteLatency(m, 0, 0, 0)
                : new MinuteLatency(m, sorted.Length, LatencySummary.Percentile(sorted, 50), LatencySummary.Percentile(sorted, 99));
        }).ToList();
        return new SoakReport
        {
            Url = settings.Url.ToString(),
            Model = settings.Model,
            PlannedDurationS = settings.Duration.TotalSeconds,
            DurationS = duration,
            Concurrency = settings.Concurrency,
            Seed = settings.Seed,
            RequestTimeoutS = settings.RequestTimeout.TotalSeconds,
            Requests = results.Count,
            Ok = results.Count(r => r.Outcome == SoakOutcome.Ok),
            ClientErrors = ByStatus(results.Where(r => r.Outcome == SoakOutcome.ClientError)),
            ServerErrors = ByStatus(results.Where(r => r.Outcome == SoakOutcome.ServerError)),
            Cancelled = results.Count(r => r.Outcome == SoakOutcome.Cancelled),
            TransportErrors = results.Count(r => r.Outcome == SoakOutcome.TransportError),
            Hangs = results.Count(r => r.Outcome == SoakOutcome.Hang),
            BadInputAccepted = results.Count(r => r.Outcome == SoakOutcome.Ok && r.Kind == SoakKind.BadInput),
            DiedAfterS = diedAfter,
            Start = start,
            End = end,
            Latency = latency,
            Errors = [.. results.Where(r => r.Error != null).OrderBy(r => r.End).Select(r => r.Error!).DistinctBy(Kind).Take(10)],
        };
    }

    /// <summary>An error without what differs between requests of one kind (request ids, numbers), to list each kind once.</summary>
    private static string Kind(string error) => Ids().Replace(error, "*");

    [System.Text.RegularExpressions.GeneratedRegex(@"[0-9a-f]{16,}|\d+")]
    private static partial System.Text.RegularExpressions.Regex Ids();

    public string ToJson()
    {
        static object? Bytes(double? b) => b is { } v ? (long)v : null;
        static Dictionary<string, int> Statuses(SortedDictionary<int, int> d) => d.ToDictionary(kv => kv.Key.ToString(CultureInfo.InvariantCulture), kv => kv.Value);
        var obj = new Dictionary<string, object?>
        {
            ["url"] = Url,
            ["model"] = Model,
            ["planned_duration_s"] = Math.Round(PlannedDurationS, 3),
            ["duration_s"] = Math.Round(DurationS, 3),
            ["concurrency"] = Concurrency,
            ["seed"] = Seed,
            ["request_timeout_s"] = RequestTimeoutS,
            ["requests"] = Requests,
            ["outcomes"] = new Dictionary<string, object>
            {
                ["ok"] = Ok,
                ["client_errors"] = Statuses(ClientErrors),
                ["server_errors"] = Statuses(ServerErrors),
                ["cancelled"] = Cancelled,
                ["transport_errors"] = TransportErrors,
                ["hangs"] = Hangs,
                ["bad_input_accepted"] = BadInputAccepted,
            },
            ["server_died"] = ServerDied,
            ["server_died_after_s"] = DiedAfterS is { } d ? Math.Round(d, 3) : null,
            ["memory"] = new Dictionary<string, object?>
            {
                ["rss_start_bytes"] = Bytes(Start.ResidentBytes),
                ["rss_end_bytes"] = Bytes(End.ResidentBytes),
                ["heap_start_bytes"] = Bytes(Start.HeapBytes),
                ["heap_end_bytes"] = Bytes(End.HeapBytes),
            },
            ["latency_by_minute"] = Latency.Select(l => new Dictionary<string, object>
            {
                ["minute"] = l.Minute,
                ["requests"] = l.Requests,
                ["p50_ms"] = Math.Round(l.P50Ms, 3),
                ["p99_ms"] = Math.Round(l.P99Ms, 3),
            }).ToList(),
            ["errors"] = Errors,
            ["failed"] = Failed,
            ["failure_reasons"] = FailureReasons,
        };
        return JsonSerializer.Serialize(obj);
    }

    public string ToText()
    {
        var w = new StringWriter(CultureInfo.InvariantCulture);
        void Line(string label, string value) => w.WriteLine($"{label,-34}{value}");
        static string Statuses(SortedDictionary<int, int> d) => d.Count == 0 ? "0" : string.Join(", ", d.Select(kv => $"{kv.Key}: {kv.Value}"));
        static string Mib(double? b) => b is { } v ? (v / (1 << 20)).ToString("F1", CultureInfo.InvariantCulture) : "n/a";
        static string Change(ServerMemory a, ServerMemory b, Func<ServerMemory, double?> f) =>
            f(a) is { } x && f(b) is { } y ? $"{Mib(x)} -> {Mib(y)} MiB ({(y - x) / (1 << 20):+0.0;-0.0;0.0})" : $"{Mib(f(a))} -> {Mib(f(b))} MiB";

        w.WriteLine("============== Soak Benchmark Result ==============");
        Line("Server:", $"{Url} ({Model})");
        Line("Duration (s):", $"{DurationS:F1} of {PlannedDurationS:F1}");
        Line("Concurrency, seed:", $"{Concurrency}, {Seed}");
        Line("Requests:", Requests.ToString(CultureInfo.InvariantCulture));
        Line("  ok:", Ok.ToString(CultureInfo.InvariantCulture));
        Line("  4xx:", Statuses(ClientErrors));
        Line("  5xx:", Statuses(ServerErrors));
        Line("  cancelled by us:", Cancelled.ToString(CultureInfo.InvariantCulture));
        Line("  transport errors:", TransportErrors.ToString(CultureInfo.InvariantCulture));
        Line($"  hangs (> {RequestTimeoutS:0.#} s):", Hangs.ToString(CultureInfo.InvariantCulture));
        Line("  bad input accepted (2xx):", BadInputAccepted.ToString(CultureInfo.InvariantCulture));
        Line("Server died:", DiedAfterS is { } died ? $"yes, connection refused after {died:F1} s" : "no");
        Line("Resident memory:", Change(Start, End, m => m.ResidentBytes));
        Line("Managed heap:", Change(Start, End, m => m.HeapBytes));
        w.WriteLine("-- Latency of valid requests per minute -----------");
        w.WriteLine($"{"minute",6} {"requests",9} {"p50 ms",10} {"p99 ms",10}");
        foreach (var l in Latency)
        {
            w.WriteLine(l.Requests == 0
                ? $"{l.Minute,6} {0,9} {"-",10} {"-",10}"
                : $"{l.Minute,6} {l.Requests,9} {l.P50Ms,10:F1} {l.P99Ms,10:F1}");
        }
        if (Errors.Count > 0)
        {
            w.WriteLine("-- First errors ------------------------------------");
            foreach (var e in Errors)
            {
                w.WriteLine(e);
            }
        }
        w.WriteLine("===================================================");
        w.Write(Failed ? "FAIL: " + string.Join("; ", FailureReasons) : "PASS: no 5xx, no hang, the server stayed up");
        return w.ToString();
    }
}
