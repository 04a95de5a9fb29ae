using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sluice.Cli.Tests.Support;
using Sluice.Engine.Serving;
using Sluice.Server;

namespace Sluice.Cli.Tests.Diagnosis;

/// <summary>`sluice doctor` against an HTTPS server with a self-signed certificate: --cacert, --insecure, and bad CA files.</summary>
public sealed class DoctorTlsTests(DoctorFixture model) : IClassFixture<DoctorFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-doctor-tls-").FullName;

    private static void WriteSelfSigned(string certFile, string keyFile, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(certFile, cert.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
    }

    private static Task<(int Rc, string Output, string Error)> DoctorAsync(SluiceServer server, params string[] extra) =>
        Task.Run(() => CliRunner.Run(["doctor", "--url", server.Addresses[0].ToString(), "--window", "0.2", .. extra]));

    [Fact]
    public async Task SelfSignedServer_ReadWithCacertOrInsecure_RefusedWithoutEither()
    {
        string cert = Path.Combine(_dir, "server.pem"), key = Path.Combine(_dir, "server.key");
        string other = Path.Combine(_dir, "other.pem");
        WriteSelfSigned(cert, key, "sluice-doctor");
        WriteSelfSigned(other, Path.Combine(_dir, "other.key"), "someone-else");
        await using var server = await model.StartAsync(new EngineOptions { MaxNumSeqs = 4, KvCacheMemory = 4 << 20 },
            options: new ServerOptions { SslCertFile = cert, SslKeyFile = key });
        Assert.Equal("https", server.Addresses[0].Scheme);

        var (rc, output, error) = await DoctorAsync(server, "--cacert", cert);
        Assert.True(rc is 0 or 1, output + error); // read: healthy or a finding, not unreachable
        Assert.Contains("ready", output);

        (rc, output, error) = await DoctorAsync(server, "--insecure");
        Assert.True(rc is 0 or 1, output + error);

        (rc, _, error) = await DoctorAsync(server);
        Assert.Equal(2, rc);
        Assert.Contains("cannot read", error);

        (rc, _, error) = await DoctorAsync(server, "--cacert", other);
        Assert.Equal(2, rc);
        Assert.Contains("cannot read", error);
    }

    [Theory]
    [InlineData("missing.pem", null, "--cacert")]
    [InlineData("garbage.pem", "not a certificate", "no certificate")]
    public void BadCacertFile_FailsNamingIt(string file, string? content, string expected)
    {
        string path = Path.Combine(_dir, file);
        if (content is not null)
        {
            File.WriteAllText(path, content);
        }
        var (rc, _, error) = CliRunner.Run("doctor", "--url", "https://127.0.0.1:1", "--cacert", path);
        Assert.Equal(2, rc);
        Assert.Contains(expected, error);
        Assert.Contains(file, error);
    }

    [Fact]
    public void CacertAndInsecure_Together_Refused()
    {
        var (rc, _, error) = CliRunner.Run("doctor", "--url", "https://127.0.0.1:1", "--cacert", "x.pem", "--insecure");
        Assert.Equal(2, rc);
        Assert.Contains("not both", error);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
