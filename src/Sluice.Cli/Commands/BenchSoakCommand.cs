using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Sluice.Cli.Benchmarking;
using Sluice.Cli.Options;
using Sluice.Hosting.Metrics.Parsing;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice bench soak`: mixed load on one running server for a long time (valid completions and chat, streamed and
/// whole, n > 1, client aborts, bad input) and what it did to the server: outcomes, 5xx, hangs, whether it died, its
/// memory before and after, and p99 latency per minute. Exit 1 on any 5xx, hang or crash.
/// </summary>
internal static class BenchSoakCommand
{
    public static Command Create()
    {
        var url = new Option<string>("--url") { Description = "Server base URL, e.g. http://127.0.0.1:8000", Required = true };
        var duration = new Option<string>("--duration", "-d") { Description = "How long to run: 20m, 90s, 1h30m (a bare number is seconds)", DefaultValueFactory = _ => "20m" };
        var concurrency = new Option<int>("--concurrency", "-c") { Description = "Requests in flight at once", DefaultValueFactory = _ => 8 };
        var seed = new Option<int>("--seed") { Description = "Seed of the request mix (the same seed sends the same sequence per worker)", DefaultValueFactory = _ => 0 };
        var requestTimeout = new Option<string>("--request-timeout") { Description = "A request still unanswered after this counts as a hang", DefaultValueFactory = _ => "2m" };
        var model = new Option<string?>("--model") { Description = "Model name (default: the first the server lists)" };
        var apiKey = new Option<string?>("--api-key") { Description = "Sent as Authorization: Bearer" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("soak", "Soak a running server with mixed load (valid, streamed, n > 1, aborted, bad input): outcomes, 5xx, hangs, crash, memory, p99 latency per minute.")
        {
            url, duration, concurrency, seed, requestTimeout, model, apiKey, json,
        };
        cmd.SetAction((parse, ct) => CliErrors.RunAsync(parse, async () =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            TimeSpan? Positive(Option<string> option)
            {
                try
                {
                    var t = Duration.Parse(parse.GetValue(option)!);
                    if (t > TimeSpan.Zero)
                    {
                        return t;
                    }
                    stderr.WriteLine($"error: {option.Name} must be longer than zero (got {parse.GetValue(option)})");
                }
                catch (FormatException ex)
                {
                    stderr.WriteLine($"error: {option.Name}: {ex.Message}");
                }
                return null;
            }
            if (Positive(duration) is not { } length || Positive(requestTimeout) is not { } timeout)
            {
                return 2;
            }
            int c = parse.GetValue(concurrency);
            if (c < 1)
            {
                stderr.WriteLine($"error: --concurrency must be at least 1 (got {c})");
                return 2;
            }
            using var http = Client(c, parse.GetValue(apiKey));
            var (baseUrl, name, maxModelLen, start) = await CliErrors.StepAsync("cannot start the soak", async () =>
            {
                var baseUrl = new Uri(parse.GetValue(url)!.TrimEnd('/') + "/");
                string name = parse.GetValue(model) ?? await BenchServeCommand.FirstModelAsync(http, baseUrl, ct);
                return (baseUrl, name, await MaxModelLenAsync(http, baseUrl, name, ct), await MemoryAsync(http, baseUrl, ct));
            });

            var settings = new SoakSettings(baseUrl, name, length, c, parse.GetValue(seed), timeout, maxModelLen);
            stderr.WriteLine($"sluice bench soak: {baseUrl} ({name}) for {Duration.Format(length)} at concurrency {c}, seed {settings.Seed}; " +
                $"a request unanswered after {Duration.Format(timeout)} is a hang");
            var generator = new SoakLoadGenerator(http, settings);
            using var ticker = new CancellationTokenSource();
            var progress = ProgressAsync(generator, stderr, ticker.Token);
            await generator.RunAsync(null, ct);
            double took = generator.Elapsed;
            await ticker.CancelAsync();
            await progress;

            var end = generator.DiedAfter is null ? await MemoryOrNothingAsync(http, baseUrl) : new ServerMemory(null, null);
            var report = SoakReport.From(settings, generator.Results, took, generator.DiedAfter, start, end);
            stdout.WriteLine(parse.GetValue(json) ? report.ToJson() : report.ToText());
            return report.Failed ? 1 : 0;
        }));
        return cmd;
    }

    /// <summary>A line on stderr at the end of every minute: requests, 5xx, hangs, p99 of the valid ones in that minute.</summary>
    private static async Task ProgressAsync(SoakLoadGenerator generator, TextWriter stderr, CancellationToken ct)
    {
        for (int minute = 0; ; minute++)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(60 * (minute + 1)) - TimeSpan.FromSeconds(generator.Elapsed), ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var inMinute = generator.Results.Where(r => (int)(r.End / 60) == minute).ToList();
            var valid = inMinute.Where(r => r.Outcome == SoakOutcome.Ok && r.Kind != SoakKind.BadInput && r.Kind != SoakKind.Cancelled).Select(r => r.LatencyMs).Order().ToArray();
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"minute {minute}: {inMinute.Count} requests, {inMinute.Count(r => r.Outcome == SoakOutcome.ServerError)} 5xx, {inMinute.Count(r => r.Outcome == SoakOutcome.Hang)} hangs, " +
                $"p99 {(valid.Length == 0 ? "-" : LatencySummary.Percentile(valid, 99).ToString("F0", CultureInfo.InvariantCulture) + " ms")}"));
        }
    }

    private static HttpClient Client(int concurrency, string? apiKey)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = concurrency + 4,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        if (apiKey != null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }
        return http;
    }

    /// <summary>The server's context length from POST /tokenize (sluice and vLLM report it); 8192 when it does not say.</summary>
    private static async Task<int> MaxModelLenAsync(HttpClient http, Uri baseUrl, string model, CancellationToken ct)
    {
        using var content = new StringContent(JsonSerializer.Serialize(new Dictionary<string, string> { ["model"] = model, ["prompt"] = "x" }), System.Text.Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri(baseUrl, "tokenize"), content, ct);
        if (!response.IsSuccessStatusCode)
        {
            return 8192;
        }
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        return doc.RootElement.TryGetProperty("max_model_len", out var len) && len.TryGetInt32(out int n) && n > 0 ? n : 8192;
    }

    /// <summary>Resident memory and managed heap from GET /metrics (null where the server does not export them).</summary>
    private static async Task<ServerMemory> MemoryAsync(HttpClient http, Uri baseUrl, CancellationToken ct)
    {
        using var response = await http.GetAsync(new Uri(baseUrl, "metrics"), ct);
        if (!response.IsSuccessStatusCode)
        {
            return new ServerMemory(null, null);
        }
        var metrics = MetricSnapshot.Parse(await response.Content.ReadAsStringAsync(ct));
        double? Get(string name) => metrics.Has(name) ? metrics.Sum(name) : null;
        return new ServerMemory(Get("process_resident_memory_bytes"), Get("sluice_gc_heap_bytes"));
    }

    private static async Task<ServerMemory> MemoryOrNothingAsync(HttpClient http, Uri baseUrl)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            return await MemoryAsync(http, baseUrl, timeout.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            return new ServerMemory(null, null);
        }
    }
}
