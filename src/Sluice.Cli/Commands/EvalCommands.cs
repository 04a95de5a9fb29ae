using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Sluice.Cli.Evaluation;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice eval golden --url URL --suite FILE`: runs a golden-prompt suite against a server or the gateway and
/// prints a pass/fail line per case with its latency. Exit 0 when every case passes, 1 when one fails (a release
/// gate), 2 when the suite is malformed or the server cannot be read.
/// </summary>
internal static class EvalCommands
{
    public static Command Create()
    {
        var eval = new Command("eval", "Check a server's outputs against expectations, to gate a release.");
        eval.Subcommands.Add(CreateGolden());
        return eval;
    }

    private static Command CreateGolden()
    {
        var url = new Option<string>("--url") { Description = "The server or gateway, e.g. http://127.0.0.1:8000", Required = true };
        var suite = new Option<string>("--suite") { Description = "YAML golden suite (see docs/eval.md)", Required = true };
        var apiKey = new Option<string?>("--api-key") { Description = "API key (or SLUICE_API_KEY)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: passed, failed, and each case's output, latency and failures" };
        var cmd = new Command("golden", "Run a golden-prompt suite (exact, contains, regex, JSON-valid, max-latency checks) with greedy decoding.")
        {
            url, suite, apiKey, json,
        };
        cmd.SetAction((parse, cancel) => CliErrors.RunAsync(parse, async () =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var loaded = GoldenSuite.Load(parse.GetValue(suite)!);
            if (!Uri.TryCreate(parse.GetValue(url), UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
            {
                throw new ArgumentException($"--url '{parse.GetValue(url)}' is not an absolute http(s) URL");
            }
            using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromMinutes(5) };
            if ((parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("SLUICE_API_KEY")) is { Length: > 0 } key)
            {
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }
            var results = await CliErrors.StepAsync($"cannot read {baseUri}", () => new GoldenRunner(http).RunAsync(loaded, cancel));
            stdout.Write(parse.GetValue(json) ? Json(results) + "\n" : Text(results));
            return results.All(r => r.Passed) ? 0 : 1;
        }));
        return cmd;
    }

    private static string Text(IReadOnlyList<GoldenResult> results)
    {
        var s = new System.Text.StringBuilder();
        foreach (var r in results)
        {
            s.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{(r.Passed ? "PASS" : "FAIL")}  {r.Name}  {r.LatencyMs:0} ms"));
            foreach (var f in r.Failures)
            {
                s.AppendLine("      " + f);
            }
        }
        int passed = results.Count(r => r.Passed);
        s.AppendLine($"{passed} passed, {results.Count - passed} failed");
        return s.ToString();
    }

    private static string Json(IReadOnlyList<GoldenResult> results)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("passed", results.Count(r => r.Passed));
            w.WriteNumber("failed", results.Count(r => !r.Passed));
            w.WriteStartArray("cases");
            foreach (var r in results)
            {
                w.WriteStartObject();
                w.WriteString("name", r.Name);
                w.WriteBoolean("passed", r.Passed);
                w.WriteNumber("latency_ms", Math.Round(r.LatencyMs, 1));
                w.WriteString("output", r.Output);
                w.WriteStartArray("failures");
                foreach (var f in r.Failures)
                {
                    w.WriteStringValue(f);
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
