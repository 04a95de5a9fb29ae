using System.CommandLine;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using Sluice.Cli.Benchmarking;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice bench serve`: load on a running OpenAI-compatible server (sluice, vLLM, llama-server), measured
/// from the client as `vllm bench serve` measures it: TTFT, TPOT, ITL and end-to-end latency, throughput, errors.
/// </summary>
internal static class BenchServeCommand
{
    public static Command Create()
    {
        var url = new Option<string>("--url") { Description = "Server base URL, e.g. http://127.0.0.1:8000", Required = true };
        var model = new Option<string?>("--model") { Description = "Model name (default: the first the server lists)" };
        var endpoint = new Option<string>("--endpoint") { Description = "/v1/completions or /v1/chat/completions", DefaultValueFactory = _ => "/v1/completions" };
        var concurrency = new Option<int>("--concurrency", "-c") { Description = "Requests in flight at most", DefaultValueFactory = _ => 1 };
        var numPrompts = new Option<int>("--num-prompts", "-n") { Description = "Requests to send", DefaultValueFactory = _ => 32 };
        var inputLen = new Option<int>("--input-len") { Description = "Prompt length in tokens (approximately; the usage reports the real count)", DefaultValueFactory = _ => 128 };
        var outputLen = new Option<int>("--output-len") { Description = "Tokens to generate per request (ignore_eos)", DefaultValueFactory = _ => 128 };
        var rate = new Option<double>("--request-rate") { Description = "Poisson arrivals per second (default: all at once, bounded by --concurrency)", DefaultValueFactory = _ => double.PositiveInfinity };
        var apiKey = new Option<string?>("--api-key") { Description = "Sent as Authorization: Bearer" };
        var seed = new Option<int>("--seed") { Description = "Seed of the prompts and arrivals", DefaultValueFactory = _ => 0 };
        var insecure = new Option<bool>("--insecure") { Description = "Accept any TLS certificate (self-signed test servers)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("serve", "Load-test a running OpenAI-compatible server: TTFT, TPOT, ITL, end-to-end latency (mean/p50/p90/p99), throughput, errors.")
        {
            url, model, endpoint, concurrency, numPrompts, inputLen, outputLen, rate, apiKey, seed, insecure, json,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            int c = parse.GetValue(concurrency), n = parse.GetValue(numPrompts), input = parse.GetValue(inputLen), output = parse.GetValue(outputLen);
            if (c < 1 || n < 1 || input < 1 || output < 1)
            {
                stderr.WriteLine("error: --concurrency, --num-prompts, --input-len and --output-len must be positive");
                return 2;
            }
            using var http = Client(c, parse.GetValue(apiKey), parse.GetValue(insecure));
            try
            {
                var baseUrl = new Uri(parse.GetValue(url)!.TrimEnd('/') + "/");
                string name = parse.GetValue(model) ?? await FirstModelAsync(http, baseUrl, ct);
                var settings = new LoadSettings(baseUrl, name, parse.GetValue(endpoint)!.TrimStart('/'), c, output, parse.GetValue(rate), parse.GetValue(seed));
                var prompts = BenchPrompts.Make(n, input, settings.Seed);
                stderr.WriteLine($"sluice bench serve: {n} requests to {new Uri(baseUrl, settings.Endpoint)} ({name}), concurrency {c}, ~{input} tokens in, {output} out");
                var progress = new ProgressBar(stderr, n);
                var watch = Stopwatch.StartNew();
                var results = await new ServeLoadGenerator(http, settings).RunAsync(prompts, progress.Add, ct);
                var report = BenchServeReport.From(results, watch.Elapsed.TotalSeconds, c, n);
                stdout.WriteLine(parse.GetValue(json) ? report.ToJson() : report.ToText());
                foreach (var error in results.Where(r => !r.Ok).Select(r => r.Error).Distinct().Take(3))
                {
                    stderr.WriteLine($"error: {error}");
                }
                return report.Completed > 0 ? 0 : 1;
            }
            catch (Exception ex) when (ex is HttpRequestException or UriFormatException or JsonException or InvalidOperationException)
            {
                stderr.WriteLine("error: " + ex.Message);
                return 2;
            }
        });
        return cmd;
    }

    private static HttpClient Client(int concurrency, string? apiKey, bool insecure)
    {
        var handler = new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
        if (insecure)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }
        var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        if (apiKey != null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }
        return http;
    }

    /// <summary>The first model GET /v1/models lists.</summary>
    internal static async Task<string> FirstModelAsync(HttpClient http, Uri baseUrl, CancellationToken ct)
    {
        using var response = await http.GetAsync(new Uri(baseUrl, "v1/models"), ct);
        string body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"GET /v1/models answered {(int)response.StatusCode}: {body}");
        }
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("data")[0].GetProperty("id").GetString()
            ?? throw new InvalidOperationException("the server lists no model");
    }
}
