using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sluice.Cli.Evaluation;

/// <summary>What one golden case got: its output, its latency, and the checks it failed (none: it passed).</summary>
internal sealed record GoldenResult(string Name, string? Output, double LatencyMs, IReadOnlyList<string> Failures)
{
    public bool Passed => Failures.Count == 0;
}

/// <summary>
/// Runs a <see cref="GoldenSuite"/> against an OpenAI-compatible server (a `sluice serve` or the gateway), one
/// case at a time so latencies are not queueing, with greedy decoding (temperature 0, seed 0) so a model gives
/// the same output on every run.
/// </summary>
internal sealed class GoldenRunner(HttpClient http)
{
    public async Task<IReadOnlyList<GoldenResult>> RunAsync(GoldenSuite suite, CancellationToken cancel)
    {
        string model = suite.Model ?? await FirstModelAsync(cancel);
        var results = new List<GoldenResult>();
        foreach (var c in suite.Cases)
        {
            results.Add(await RunCaseAsync(c, model, cancel));
        }
        return results;
    }

    private async Task<string> FirstModelAsync(CancellationToken cancel)
    {
        using var response = await http.GetAsync("/v1/models", cancel);
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancel));
        return doc.RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()).FirstOrDefault(id => id is not null)
            ?? throw new InvalidDataException("/v1/models lists no model: set 'model' in the suite");
    }

    private async Task<GoldenResult> RunCaseAsync(GoldenCase c, string model, CancellationToken cancel)
    {
        var body = new JsonObject { ["model"] = model, ["max_tokens"] = c.MaxTokens, ["temperature"] = 0, ["seed"] = 0, ["stream"] = false };
        string route;
        if (c.Prompt is not null)
        {
            route = "/v1/completions";
            body["prompt"] = c.Prompt;
        }
        else
        {
            route = "/v1/chat/completions";
            body["messages"] = new JsonArray(c.Messages!.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content }).ToArray());
        }
        long start = Stopwatch.GetTimestamp();
        string? output;
        try
        {
            using var response = await http.PostAsJsonAsync(route, body, cancel);
            string text = await response.Content.ReadAsStringAsync(cancel);
            if (!response.IsSuccessStatusCode)
            {
                return new GoldenResult(c.Name, null, Elapsed(start), [$"{route} answered {(int)response.StatusCode}: {Shorten(text)}"]);
            }
            using var doc = JsonDocument.Parse(text);
            var choice = doc.RootElement.GetProperty("choices")[0];
            output = c.Prompt is not null ? choice.GetProperty("text").GetString() : choice.GetProperty("message").GetProperty("content").GetString();
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException)
        {
            return new GoldenResult(c.Name, null, Elapsed(start), [$"{route}: {ex.Message}"]);
        }
        double latency = Elapsed(start);
        return new GoldenResult(c.Name, output, latency, Check(c, output ?? "", latency));
    }

    /// <summary>The checks <paramref name="output"/> fails, each as a sentence.</summary>
    internal static List<string> Check(GoldenCase c, string output, double latencyMs)
    {
        var failures = new List<string>();
        if (c.Exact is { } exact && output != exact)
        {
            failures.Add($"exact: expected {Quote(exact)}, got {Quote(output)}");
        }
        foreach (var part in c.Contains.Where(part => !output.Contains(part, StringComparison.Ordinal)))
        {
            failures.Add($"contains: {Quote(part)} not in {Quote(output)}");
        }
        if (c.Pattern is { } pattern && !pattern.IsMatch(output))
        {
            failures.Add($"regex: /{pattern}/ does not match {Quote(output)}");
        }
        if (c.Json)
        {
            try
            {
                using var _ = JsonDocument.Parse(output);
            }
            catch (JsonException ex)
            {
                failures.Add($"json: not valid JSON ({ex.Message})");
            }
        }
        if (c.MaxLatency is { } max && latencyMs > max.TotalMilliseconds)
        {
            failures.Add($"max_latency: {latencyMs:0} ms over {max.TotalMilliseconds:0} ms");
        }
        return failures;
    }

    private static double Elapsed(long start) => Stopwatch.GetElapsedTime(start).TotalMilliseconds;

    private static string Quote(string s) => JsonSerializer.Serialize(Shorten(s));

    private static string Shorten(string s) => s.Length <= 200 ? s : s[..200] + "...";
}
