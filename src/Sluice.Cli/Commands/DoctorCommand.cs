using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Sluice.Cli.Diagnosis;
using Sluice.Hosting.Metrics.Parsing;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice doctor --url URL`: scrapes /metrics twice over a window, reads /health, and says in the runbooks'
/// terms what is wrong (or that nothing is), with the numbers and the levers. Exit 0 healthy, 1 a problem
/// found, 2 the server could not be read.
/// </summary>
internal sealed class DoctorCommand(TimeProvider time)
{
    private readonly Option<string> _url = new("--url") { Description = "The server, e.g. http://127.0.0.1:8000", Required = true };
    private readonly Option<string?> _apiKey = new("--api-key") { Description = "API key for /metrics (or SLUICE_API_KEY)" };
    private readonly Option<double> _window = new("--window") { Description = "Seconds between the two scrapes", DefaultValueFactory = _ => 10 };
    private readonly Option<bool> _json = new("--json") { Description = "Print one JSON object (symptom codes, evidence, levers, numbers)" };
    private readonly Option<double?> _ttft = new("--ttft-target") { Description = "Mean time to first token above this many seconds is high (default 1)" };
    private readonly Option<string?> _cacert = new("--cacert") { Description = "PEM file of the CA certificate(s) that signed the server's certificate (a private CA or a self-signed one)" };
    private readonly Option<bool> _insecure = new("--insecure", "-k") { Description = "Do not check the server's TLS certificate (as curl -k)" };
    private readonly Option<double?> _itl = new("--itl-target") { Description = "Mean inter-token latency above this many seconds is slow decode (default 0.2)" };

    public static Command Create(TimeProvider? time = null) => new DoctorCommand(time ?? TimeProvider.System).Build();

    private Command Build()
    {
        var cmd = new Command("doctor", "Diagnose a running server from its metrics and health: queueing, prefill, decode, KV pressure, errors, not ready.")
        {
            _url, _apiKey, _window, _json, _ttft, _itl, _cacert, _insecure,
        };
        cmd.SetAction((parse, cancel) => CliErrors.RunAsync(parse, () => RunAsync(parse, cancel)));
        return cmd;
    }

    private async Task<int> RunAsync(ParseResult parse, CancellationToken cancel)
    {
        var stdout = parse.InvocationConfiguration.Output;
        var stderr = parse.InvocationConfiguration.Error;
        string url = parse.GetValue(_url)!;
        double window = parse.GetValue(_window);
        if (!Uri.TryCreate(url, UriKind.Absolute, out var baseUri) || window <= 0 || !double.IsFinite(window))
        {
            stderr.WriteLine("error: --url must be an absolute http(s) URL and --window a positive number of seconds");
            return 2;
        }
        var defaults = new DoctorThresholds();
        var thresholds = defaults with
        {
            TtftSeconds = parse.GetValue(_ttft) ?? defaults.TtftSeconds,
            ItlSeconds = parse.GetValue(_itl) ?? defaults.ItlSeconds,
        };
        using var http = new HttpClient(TlsHandler(parse.GetValue(_cacert), parse.GetValue(_insecure)))
        {
            BaseAddress = baseUri,
            Timeout = TimeSpan.FromSeconds(30),
        };
        if ((parse.GetValue(_apiKey) ?? Environment.GetEnvironmentVariable("SLUICE_API_KEY")) is { Length: > 0 } key)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        var (numbers, health) = await CliErrors.StepAsync($"cannot read {baseUri}", async () =>
        {
            var first = await ScrapeAsync(http, cancel);
            long start = time.GetTimestamp();
            await Task.Delay(TimeSpan.FromSeconds(window), time, cancel);
            var last = await ScrapeAsync(http, cancel);
            double seconds = time.GetElapsedTime(start).TotalSeconds;
            return (DoctorNumbers.From(new MetricWindow(first, last, seconds)), await HealthAsync(http, cancel));
        }, "the server is down or unreachable: see docs/runbooks/down.md");
        var report = new DoctorReport(baseUri.ToString(), health, numbers, Diagnoser.Diagnose(numbers, health, thresholds));
        stdout.Write(parse.GetValue(_json) ? report.Json() + "\n" : report.Text());
        return report.Healthy ? 0 : 1;
    }

    /// <summary>
    /// The handler that checks the server's certificate: the system's trust store by default, only the CA certificates of
    /// <paramref name="cacert"/> when given (curl's --cacert), or nothing with <paramref name="insecure"/>.
    /// </summary>
    internal static HttpClientHandler TlsHandler(string? cacert, bool insecure)
    {
        if (cacert is not null && insecure)
        {
            throw new ArgumentException("give --cacert or --insecure, not both");
        }
        var handler = new HttpClientHandler();
        if (insecure)
        {
            handler.ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator;
        }
        else if (cacert is not null)
        {
            var roots = new X509Certificate2Collection();
            try
            {
                roots.ImportFromPemFile(cacert);
            }
            catch (Exception ex) when (ex is IOException or CryptographicException)
            {
                throw new ArgumentException($"--cacert {cacert}: cannot read a PEM certificate ({ex.Message})", ex);
            }
            if (roots.Count == 0)
            {
                throw new ArgumentException($"--cacert {cacert}: no certificate in the file (expected PEM: -----BEGIN CERTIFICATE-----)");
            }
            handler.ServerCertificateCustomValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                {
                    return false;
                }
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(certificate);
            };
        }
        return handler;
    }

    private static async Task<MetricSnapshot> ScrapeAsync(HttpClient http, CancellationToken cancel)
    {
        using var response = await http.GetAsync("/metrics", cancel);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            throw new InvalidDataException("/metrics needs the API key: pass --api-key (or serve with --metrics-open)");
        }
        response.EnsureSuccessStatusCode();
        var snapshot = MetricSnapshot.Parse(await response.Content.ReadAsStringAsync(cancel));
        return snapshot.Has("sluice_model_state") ? snapshot : throw new InvalidDataException("/metrics has no sluice_ metrics: is this a Sluice server?");
    }

    /// <summary>GET /health (200 healthy, 503 unhealthy, both with a JSON body).</summary>
    private static async Task<HealthInfo> HealthAsync(HttpClient http, CancellationToken cancel)
    {
        using var response = await http.GetAsync("/health", cancel);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancel));
        var h = doc.RootElement;
        string? Text(string name) => h.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return new HealthInfo(response.IsSuccessStatusCode && Text("status") == "healthy", Text("reason"), Text("state") ?? "unknown", Text("model"));
    }
}
