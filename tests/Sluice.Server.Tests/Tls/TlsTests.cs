using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Tls;

public sealed class TlsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-tls-").FullName;

    /// <summary>A self-signed certificate for 127.0.0.1, written as PEM files; returns its thumbprint.</summary>
    private static string WriteSelfSigned(string certFile, string keyFile, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
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

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
