using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Sluice.Hosting.Tls;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Hosting;

public sealed class TlsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-tls-").FullName;

    /// <summary>A self-signed certificate for 127.0.0.1, written as PEM files; returns its thumbprint.</summary>
    private static string WriteSelfSigned(string certFile, string keyFile, string name) =>
        WriteSelfSigned(certFile, keyFile, name, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

    private static string WriteSelfSigned(string certFile, string keyFile, string name, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(notBefore, notAfter);
        File.WriteAllText(certFile, cert.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return cert.Thumbprint;
    }

    /// <summary>A new connection (no pooling) that records the certificate the server presents.</summary>
    private static async Task<(HttpStatusCode Status, string? Thumbprint)> GetAsync(Uri url)
    {
        string? seen = null;
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) =>
            {
                seen = cert?.Thumbprint;
                return true;
            },
        };
        using var client = new HttpClient(handler);
        var response = await client.GetAsync(url);
        return (response.StatusCode, seen);
    }

    [Fact]
    public async Task Https_ServesThePemCertificate_AndPicksUpARotatedOneWithoutRestart()
    {
        string cert = Path.Combine(_dir, "cert.pem"), key = Path.Combine(_dir, "key.pem");
        string first = WriteSelfSigned(cert, key, "sluice-test-1");
        await using var t = await TestServer.StartAsync(new ServerOptions { SslCertFile = cert, SslKeyFile = key });
        Assert.Equal("https", t.BaseUri.Scheme);
        var health = new Uri(t.BaseUri, "/health/ready");
        var (status, thumbprint) = await GetAsync(health);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(first, thumbprint);

        string second = WriteSelfSigned(cert, key, "sluice-test-2");
        File.SetLastWriteTimeUtc(cert, DateTime.UtcNow.AddSeconds(2));
        string? now = thumbprint;
        for (int i = 0; i < 50 && now != second; i++)
        {
            await Task.Delay(100);
            now = (await GetAsync(health)).Thumbprint;
        }
        Assert.Equal(second, now);
    }

    [Fact]
    public async Task MismatchedCertificateAndKey_StopTheServerAtStartWithBothNames()
    {
        string cert = Path.Combine(_dir, "a.pem"), key = Path.Combine(_dir, "a.key");
        WriteSelfSigned(cert, key, "a");
        WriteSelfSigned(Path.Combine(_dir, "b.pem"), key, "b");
        var ex = await Assert.ThrowsAsync<CryptographicException>(() => TestServer.StartAsync(new ServerOptions { SslCertFile = cert, SslKeyFile = key }));
        Assert.Contains("a.pem", ex.Message);
        Assert.Contains("a.key", ex.Message);
    }

    /// <summary>Certificates are dated to the second; compare at that precision.</summary>
    private static DateTimeOffset Seconds(DateTimeOffset t) => new(t.Ticks - (t.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    [Fact]
    public async Task ExpiredCertificate_StartsWithAWarningNamingTheFileAndTheDate()
    {
        string cert = Path.Combine(_dir, "old.pem"), key = Path.Combine(_dir, "old.key");
        var expired = Seconds(DateTimeOffset.UtcNow.AddDays(-2));
        string thumbprint = WriteSelfSigned(cert, key, "old", expired.AddDays(-30), expired);
        var log = new ListLogger();
        using (var reloader = new CertificateReloader(cert, key, TimeProvider.System, log))
        {
            Assert.Equal(expired, reloader.NotAfter);
            var warning = Assert.Single(log.Entries, e => e.Level == LogLevel.Warning);
            Assert.Contains(cert, warning.Message);
            Assert.Contains($"expired on {expired:u}", warning.Message, StringComparison.OrdinalIgnoreCase);
        }

        // and it serves: replacing the certificate must not need the server stopped
        await using var t = await TestServer.StartAsync(new ServerOptions { SslCertFile = cert, SslKeyFile = key });
        var (status, served) = await GetAsync(new Uri(t.BaseUri, "/health/ready"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(thumbprint, served);
    }

    [Fact]
    public async Task NotYetValidCertificate_StopsTheStartNamingTheFileAndTheDate()
    {
        string cert = Path.Combine(_dir, "future.pem"), key = Path.Combine(_dir, "future.key");
        var from = Seconds(DateTimeOffset.UtcNow.AddDays(3));
        WriteSelfSigned(cert, key, "future", from, from.AddDays(30));
        var ex = await Assert.ThrowsAsync<CryptographicException>(() => TestServer.StartAsync(new ServerOptions { SslCertFile = cert, SslKeyFile = key }));
        Assert.Contains(cert, ex.Message);
        Assert.Contains($"{from:u}", ex.Message);
        Assert.Contains("not valid yet", ex.Message);
    }

    /// <summary>Keeps what is logged, formatted.</summary>
    private sealed class ListLogger : ILogger
    {
        private readonly List<(LogLevel Level, string Message)> _entries = [];

        public List<(LogLevel Level, string Message)> Entries
        {
            get
            {
                lock (_entries)
                {
                    return [.. _entries];
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_entries)
            {
                _entries.Add((logLevel, formatter(state, exception)));
            }
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
