using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sluice.Cli.Tests.Diagnosis;
using Sluice.Cli.Tests.Support;

namespace Sluice.Cli.Tests.Commands;

/// <summary>`sluice serve --check-config`: the effective configuration and every problem a start would meet, without serving.</summary>
public sealed class CheckConfigTests(DoctorFixture model) : IClassFixture<DoctorFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-check-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (string Cert, string Key) Certificate(string name, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(notBefore, notAfter);
        string certFile = Path.Combine(_dir, name + ".pem"), keyFile = Path.Combine(_dir, name + ".key");
        File.WriteAllText(certFile, cert.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (certFile, keyFile);
    }

    [Fact]
    public void GoodConfiguration_PrintsEveryFlagWithItsSource_Exit0()
    {
        var (cert, key) = Certificate("good", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(90));
        string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(model.ModelPath)));
        var (rc, output, error) = CliRunner.Run("serve", "--check-config", "--model", model.ModelPath, "--verify-checksum", sha,
            "--ssl-certfile", cert, "--ssl-keyfile", key, "--max-num-seqs", "12", "--api-key", "sk-do-not-print");
        Assert.True(rc == 0, output + error);
        Assert.Contains("check-config: OK", output);
        Assert.Matches(@"max-num-seqs\s+12  \(flag\)", output);
        Assert.Matches(@"port\s+8000  \(default\)", output);
        Assert.Contains("<redacted: 1 key>", output);
        Assert.DoesNotContain("sk-do-not-print", output + error);
        Assert.DoesNotContain("listening", output);
    }

    [Fact]
    public void EveryProblem_IsListed_Exit2()
    {
        var (expiredCert, expiredKey) = Certificate("expired", DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(-1));
        string bogus = Path.Combine(_dir, "bogus.gguf");
        File.WriteAllText(bogus, "this is not a model file at all, only text that is long enough");
        var (rc, output, error) = CliRunner.Run("serve", "--check-config", "--model", bogus, "--ssl-certfile", expiredCert, "--ssl-keyfile", expiredKey,
            "--api-key-file", "/proc/sys/vm/drop_caches", "--kv-cache-dtype", "int3");
        Assert.Equal(2, rc);
        Assert.Contains("check-config: 4 problems", output);
        Assert.Contains("bogus.gguf", error);
        Assert.Contains("expired", error);
        Assert.Contains("/proc/sys/vm/drop_caches", error);
        Assert.Contains("--kv-cache-dtype 'int3'", error);
    }

    [Fact]
    public void ChecksumMismatchAndCertificateExpiringSoon_ErrorAndWarning()
    {
        var (cert, key) = Certificate("soon", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(3));
        var (rc, _, error) = CliRunner.Run("serve", "--check-config", "--model", model.ModelPath, "--verify-checksum", new string('0', 64),
            "--ssl-certfile", cert, "--ssl-keyfile", key);
        Assert.Equal(2, rc);
        Assert.Contains("checksum mismatch", error);
        Assert.Contains("warning: --ssl-certfile", error);
        Assert.Contains("less than 14 days", error);
    }
}
