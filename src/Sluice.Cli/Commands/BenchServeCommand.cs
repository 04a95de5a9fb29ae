using System.CommandLine;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using Sluice.Cli.Benchmarking;
using Sluice.Cli.Output;
using Sluice.OpenAi;
using Flags = Sluice.Cli.Options.Flags;

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
        var concurrency = Flags.Int("--concurrency", 1, 1, MaxConcurrency, "Requests in flight at most", "-c");
        var numPrompts = Flags.Int("--num-prompts", 32, 1, BenchThroughputCommand.MaxPrompts, "Requests to send", "-n");
        var inputLen = Flags.Int("--input-len", 128, 1, int.MaxValue, "Prompt length in tokens (approximately; the usage reports the real count)");
        var outputLen = Flags.Int("--output-len", 128, 1, int.MaxValue, "Tokens to generate per request (ignore_eos)");
        var rate = Flags.Double("--request-rate", double.PositiveInfinity, MinRequestRate, double.PositiveInfinity,
            $"a number of requests per second from {MinRequestRate} up, or inf", "Poisson arrivals per second (default: all at once, bounded by --concurrency)");
        var apiKey = new Option<string?>("--api-key") { Description = "Sent as Authorization: Bearer" };
        var seed = Flags.Int("--seed", 0, 0, int.MaxValue, "Seed of the prompts and arrivals");
        var insecure = new Option<bool>("--insecure") { Description = "Accept any TLS certificate (self-signed test servers)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var schema = new Option<string?>("--json-schema")
        {
            Description = "Send every request with response_format json_schema: a schema file, or 'builtin' (an array of records)",
        };
        var compare = new Option<string?>("--compare-json-schema")
        {
            Description = "With --json-schema: run at each of these concurrencies (e.g. 1,16) without and then with the schema, and print decode throughput side by side",
        };
        var cmd = new Command("serve", "Load-test a running OpenAI-compatible server: TTFT, TPOT, ITL, end-to-end latency (mean/p50/p90/p99), throughput, errors.")
        {
            url, model, endpoint, concurrency, numPrompts, inputLen, outputLen, rate, apiKey, seed, insecure, json, schema, compare,
        };
        cmd.SetAction((parse, ct) => CliErrors.RunAsync(parse, async () =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            int c = parse.GetValue(concurrency), n = parse.GetValue(numPrompts), input = parse.GetValue(inputLen), output = parse.GetValue(outputLen);
            if ((long)n * input > BenchThroughputCommand.MaxPromptTokens)
            {
                throw new ArgumentException($"--num-prompts {n} x --input-len {input} is {(long)n * input:N0} prompt tokens; at most {BenchThroughputCommand.MaxPromptTokens:N0}");
            }
            var baseUrl = BaseUrl(parse.GetValue(url)!);
            string path = EndpointPath(parse.GetValue(endpoint)!);
            CheckApiKey(parse.GetValue(apiKey));
            using var http = Client(c, parse.GetValue(apiKey), parse.GetValue(insecure));
            string name = parse.GetValue(model) ?? await FirstModelAsync(http, baseUrl, ct);
            string? format = parse.GetValue(schema) is { } s ? BenchSchema.ResponseFormat(BenchSchema.Read(s)) : null;
            if (parse.GetValue(compare) is { } levels)
            {
                if (format is null)
                {
                    throw new ArgumentException("--compare-json-schema needs --json-schema (a file or 'builtin')");
                }
                var comparison = new SchemaComparison(http, new LoadSettings(baseUrl, name, path, 1, output, parse.GetValue(rate), parse.GetValue(seed)), format);
                var rows = await comparison.RunAsync(Concurrencies(levels), BenchPrompts.Make(n, input, parse.GetValue(seed)), stderr, ct);
                stdout.WriteLine(parse.GetValue(json) ? SchemaComparison.ToJson(rows) : SchemaComparison.ToText(rows));
                return rows.All(r => r.Free.Completed > 0 && r.Constrained.Completed > 0) ? 0 : 1;
            }
            var settings = new LoadSettings(baseUrl, name, path, c, output, parse.GetValue(rate), parse.GetValue(seed)) { ResponseFormat = format };
            var prompts = BenchPrompts.Make(n, input, settings.Seed);
            stderr.WriteLine($"sluice bench serve: {n} requests to {new Uri(baseUrl, settings.Endpoint)} ({name}), concurrency {c}, ~{input} tokens in, {output} out");
            var progress = new ServeProgress(new ProgressBar(stderr, n, "requests"));
            var watch = Stopwatch.StartNew();
            var results = await new ServeLoadGenerator(http, settings).RunAsync(prompts, progress.Add, ct);
            var report = BenchServeReport.From(results, watch.Elapsed.TotalSeconds, c, n);
            stdout.WriteLine(parse.GetValue(json) ? report.ToJson() : report.ToText());
            foreach (var error in results.Where(r => !r.Ok).Select(r => r.Error).Distinct().Take(3))
            {
                stderr.WriteLine($"error: {error}");
            }
            return report.Completed > 0 ? 0 : 1;
        }));
        return cmd;
    }

    /// <summary>--compare-json-schema's list of concurrencies, each from 1 to <see cref="MaxConcurrency"/>.</summary>
    internal static int[] Concurrencies(string list)
    {
        var parts = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var levels = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out levels[i])
                || levels[i] < 1 || levels[i] > MaxConcurrency)
            {
                throw new ArgumentException($"--compare-json-schema must list concurrencies from 1 to {MaxConcurrency}, such as 1,16; got '{list}'");
            }
        }
        return levels.Length > 0 ? levels : throw new ArgumentException("--compare-json-schema lists no concurrency; give e.g. 1,16");
    }

    /// <summary>Most --concurrency (each request in flight holds a connection).</summary>
    internal const int MaxConcurrency = 100_000;

    /// <summary>Least --request-rate: a slower one waits hours between requests (and overflows a TimeSpan long before 0).</summary>
    internal const double MinRequestRate = 0.001;

    /// <summary>--url: an absolute http:// or https:// address, as the base of the endpoint.</summary>
    internal static Uri BaseUrl(string url)
    {
        if (!Uri.TryCreate(url.Trim().TrimEnd('/') + "/", UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || string.IsNullOrEmpty(uri.Host))
        {
            throw new ArgumentException($"--url must be an http:// or https:// address such as http://127.0.0.1:8000, got '{url}'");
        }
        return uri;
    }

    /// <summary>--endpoint: a path on the server (/v1/completions), not an address of its own.</summary>
    internal static string EndpointPath(string endpoint)
    {
        string path = endpoint.Trim().TrimStart('/');
        if (path.Length == 0 || !Uri.TryCreate(path, UriKind.Relative, out _) || path.Contains(':', StringComparison.Ordinal)
            || path.Contains('?', StringComparison.Ordinal) || path.Contains('#', StringComparison.Ordinal))
        {
            throw new ArgumentException($"--endpoint must be a path such as /v1/completions or /v1/chat/completions, got '{endpoint}'");
        }
        return path;
    }

    /// <summary>--api-key goes into a header: no control characters (a pasted newline), not empty.</summary>
    internal static void CheckApiKey(string? key)
    {
        if (key is null)
        {
            return;
        }
        if (string.IsNullOrWhiteSpace(key))
        {
            throw new ArgumentException("--api-key is empty");
        }
        if (key.Any(char.IsControl))
        {
            throw new ArgumentException("--api-key holds a control character (a newline?)");
        }
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
        if (JsonSerializer.Deserialize(body, OpenAiJson.Default.ReceivedModelList)?.Data is [{ Id: { } id }, ..])
        {
            return id;
        }
        throw new InvalidOperationException("GET /v1/models lists no model: name one with --model");
    }
}
