using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Sluice.Hosting.Tls;

namespace Sluice.Hosting.Tests.Tls;

/// <summary>Certificate rotation with a fake clock (serving HTTPS end to end: Sluice.Server.Tests/Hosting/TlsTests).</summary>
public sealed class CertificateReloaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-tls-").FullName;

    /// <summary>A self-signed certificate for 127.0.0.1, written as PEM files; returns its thumbprint.</summary>
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

    /// <summary>Certificates are dated to the second; compare at that precision.</summary>
    private static DateTimeOffset Seconds(DateTimeOffset t) => new(t.Ticks - (t.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    [Fact]
    public void NotYetValidCertificate_OnReload_KeepsTheCurrentOneWithAnError_UntilItsTimeComes()
    {
        string cert = Path.Combine(_dir, "rot.pem"), key = Path.Combine(_dir, "rot.key");
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var untilFirst = Seconds(clock.GetUtcNow().AddDays(10));
        string first = WriteSelfSigned(cert, key, "first", clock.GetUtcNow().AddDays(-1), untilFirst);
        var log = new ListLogger();
        using var reloader = new CertificateReloader(cert, key, clock, log);
        Assert.Equal(untilFirst, reloader.NotAfter);

        var from = Seconds(clock.GetUtcNow().AddHours(1));
        string second = WriteSelfSigned(cert, key, "second", from, from.AddDays(30));
        File.SetLastWriteTimeUtc(cert, DateTime.UtcNow.AddSeconds(5));
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(first, reloader.Current.Thumbprint);
        Assert.Equal(untilFirst, reloader.NotAfter);
        var error = Assert.Single(log.Entries, e => e.Level == LogLevel.Error);
        Assert.Contains(cert, error.Message);
        Assert.Contains($"{from:u}", error.Message);
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(first, reloader.Current.Thumbprint);
        Assert.Single(log.Entries, e => e.Level == LogLevel.Error); // said once, not at every check

        clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(second, reloader.Current.Thumbprint);
        Assert.Equal(from.AddDays(30), reloader.NotAfter);
    }

    [Fact]
    public void ExpiredCertificate_OnReload_IsServedWithAWarning()
    {
        string cert = Path.Combine(_dir, "exp.pem"), key = Path.Combine(_dir, "exp.key");
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        WriteSelfSigned(cert, key, "first", clock.GetUtcNow().AddDays(-1), clock.GetUtcNow().AddDays(10));
        var log = new ListLogger();
        using var reloader = new CertificateReloader(cert, key, clock, log);
        Assert.Empty(log.Entries);

        var expired = Seconds(clock.GetUtcNow().AddMinutes(-1));
        string second = WriteSelfSigned(cert, key, "second", expired.AddDays(-30), expired);
        File.SetLastWriteTimeUtc(cert, DateTime.UtcNow.AddSeconds(5));
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(second, reloader.Current.Thumbprint);
        Assert.Equal(expired, reloader.NotAfter);
        var warning = Assert.Single(log.Entries);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains($"expired on {expired:u}", warning.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(cert, warning.Message);
    }

    [Fact]
    public void HalfWrittenPair_OnReload_KeepsTheCurrentOne_AndTakesThePairOnceWhole()
    {
        string cert = Path.Combine(_dir, "half.pem"), key = Path.Combine(_dir, "half.key");
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        string first = WriteSelfSigned(cert, key, "first", clock.GetUtcNow().AddDays(-1), clock.GetUtcNow().AddDays(10));
        var log = new ListLogger();
        using var reloader = new CertificateReloader(cert, key, clock, log);

        string other = Path.Combine(_dir, "other.key");
        string second = WriteSelfSigned(cert, other, "second", clock.GetUtcNow().AddDays(-1), clock.GetUtcNow().AddDays(20));
        File.SetLastWriteTimeUtc(cert, DateTime.UtcNow.AddSeconds(5));
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(first, reloader.Current.Thumbprint); // the new certificate with the old key: not a pair
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains(cert, StringComparison.Ordinal));

        File.Copy(other, key, overwrite: true);
        File.SetLastWriteTimeUtc(key, DateTime.UtcNow.AddSeconds(10));
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(second, reloader.Current.Thumbprint);
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
