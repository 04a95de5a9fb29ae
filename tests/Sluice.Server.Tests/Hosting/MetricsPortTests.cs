using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sluice.Server.Observability;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Hosting;

/// <summary>--metrics-port: plain HTTP, /metrics and the probes only, no key, beside an API port with TLS and a key.</summary>
public sealed class MetricsPortTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-metrics-port-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task MetricsPort_ServesMetricsAndProbesWithoutKey_AndNothingElse()
    {
        string cert = Path.Combine(_dir, "cert.pem"), key = Path.Combine(_dir, "key.pem");
        var notAfter = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(20), TimeSpan.Zero);
        using (var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            var request = new CertificateRequest("CN=metrics-port", ec, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
            using var self = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), notAfter);
            File.WriteAllText(cert, self.ExportCertificatePem());
            File.WriteAllText(key, ec.ExportPkcs8PrivateKeyPem());
        }
        var options = new ServerOptions { SslCertFile = cert, SslKeyFile = key, ApiKeys = ["sk-metrics-test"], MetricsPort = 0 };
        await using var t = await TestServer.StartAsync(options, hooks: SluiceObservability.Hooks(new ObservabilityOptions()));
        var api = t.Server.Addresses.Single(a => a.Scheme == "https");
        var metrics = t.Server.Addresses.Single(a => a.Scheme == "http");
        Assert.NotEqual(api.Port, metrics.Port);

        using var plain = new HttpClient { BaseAddress = metrics };
        var scrape = await plain.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        string text = await scrape.Content.ReadAsStringAsync();
        Assert.Contains("sluice_model_state", text);
        var expiry = new Scrape(text).Value("sluice_tls_certificate_expiry_timestamp_seconds");
        Assert.Equal(notAfter.ToUnixTimeSeconds(), expiry);
        Assert.Equal(HttpStatusCode.OK, (await plain.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await plain.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await plain.GetAsync("/version")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await plain.GetAsync("/v1/models")).StatusCode);
        var completion = await plain.PostAsync("/v1/completions", new StringContent("""{"prompt": "x", "max_tokens": 1}"""));
        Assert.Equal(HttpStatusCode.NotFound, completion.StatusCode);
        using var authorized = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent("""{"prompt": "x", "max_tokens": 1}""") };
        authorized.Headers.Authorization = new("Bearer", "sk-metrics-test");
        Assert.Equal(HttpStatusCode.NotFound, (await plain.SendAsync(authorized)).StatusCode);

        // the API port keeps its key for /metrics
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
        using var tls = new HttpClient(handler) { BaseAddress = api };
        Assert.Equal(HttpStatusCode.Unauthorized, (await tls.GetAsync("/metrics")).StatusCode);
    }
}
