using Sluice.Hosting.Metrics.Exposition;
using Sluice.Server.Metrics;

namespace Sluice.Server.Tests.Metrics;

/// <summary>docs/metrics.md is the contract: every published family is on it with its type, labels and buckets, and nothing else is.</summary>
public sealed class MetricsContractTests
{
    private const string SluiceSection = "sluice_ metrics (always published)";
    private const string VllmSection = "vLLM-compatible names (`--metrics-compat vllm`)";

    private static readonly MetricsDoc Doc = MetricsDoc.Load();

    private const string TlsSection = "With TLS (`--ssl-certfile`)";

    public static TheoryData<string> Sections => new() { SluiceSection, VllmSection, TlsSection };

    /// <summary>Metrics over a self-signed certificate, for the families published only with TLS.</summary>
    private static ServerMetrics WithTls(string dir)
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=contract", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        string certFile = Path.Combine(dir, "cert.pem"), keyFile = Path.Combine(dir, "key.pem");
        File.WriteAllText(certFile, cert.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        var reloader = new Sluice.Hosting.Tls.CertificateReloader(certFile, keyFile, TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<Sluice.Hosting.Tls.CertificateReloader>.Instance);
        return OfflineMetrics.Create(new MetricsOptions(), reloader);
    }

    [Theory]
    [MemberData(nameof(Sections))]
    public void EveryPublishedFamily_IsDocumented_WithItsTypeLabelsAndBuckets(string section)
    {
        using var plain = OfflineMetrics.Create(new MetricsOptions());
        using var compat = OfflineMetrics.Create(new MetricsOptions { Compat = MetricsCompat.Vllm });
        var dir = Directory.CreateTempSubdirectory("sluice-contract-");
        using var tls = WithTls(dir.FullName);
        dir.Delete(recursive: true);
        var always = plain.Registry.Descriptors.Select(d => d.Name).ToHashSet();
        var published = section == SluiceSection ? plain.Registry.Descriptors
            : section == TlsSection ? [.. tls.Registry.Descriptors.Where(d => !always.Contains(d.Name))]
            : [.. compat.Registry.Descriptors.Where(d => !always.Contains(d.Name))];
        var rows = Doc.Rows.Where(r => r.Section == section).ToList();

        Assert.Equal(published.Select(d => d.Name).Order(), rows.Select(r => r.Name).Order());
        foreach (var d in published)
        {
            var row = rows.Single(r => r.Name == d.Name);
            Assert.True(d.Type == row.Type, $"{d.Name}: code says {d.Type}, docs/metrics.md says {row.Type}");
            Assert.True(d.Labels.SequenceEqual(row.Labels), $"{d.Name}: code labels [{string.Join(", ", d.Labels)}], docs [{string.Join(", ", row.Labels)}]");
            if (d.Type == MetricType.Histogram)
            {
                Assert.True(row.BucketList is not null && Doc.BucketLists.ContainsKey(row.BucketList), $"{d.Name}: docs name no bucket list");
                Assert.True(d.Buckets!.SequenceEqual(Doc.BucketLists[row.BucketList!]), $"{d.Name}: default buckets differ from docs list '{row.BucketList}'");
            }
            else
            {
                Assert.True(row.BucketList is null, $"{d.Name} is a {d.Type} but docs give it buckets");
            }
        }
    }

    [Fact]
    public void Names_FollowPrometheusConventions()
    {
        using var compat = OfflineMetrics.Create(new MetricsOptions { Compat = MetricsCompat.Vllm });
        foreach (var d in compat.Registry.Descriptors)
        {
            Assert.True(d.Name.StartsWith("sluice_", StringComparison.Ordinal) || d.Name.StartsWith("process_", StringComparison.Ordinal)
                || d.Name.StartsWith("vllm:", StringComparison.Ordinal), d.Name);
            Assert.True(d.Type == MetricType.Counter == d.Name.EndsWith("_total", StringComparison.Ordinal), $"{d.Name}: counters and only counters end in _total");
            Assert.DoesNotContain("milli", d.Name, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void InterTokenBuckets_GoBelowTenMilliseconds_AndEndToEndPastTenMinutes()
    {
        Assert.True(Buckets.Itl.Count(b => b < 0.01) >= 3);
        Assert.True(Buckets.E2e[^1] > 600);
    }

    [Fact]
    public void BucketOverride_ReplacesTheDefaults_AndAnUnknownNameIsRefused()
    {
        var custom = MetricsOptions.ParseBuckets("sluice_time_to_first_token_seconds=0.1, 1,10");
        using var metrics = OfflineMetrics.Create(new MetricsOptions { Buckets = new Dictionary<string, IReadOnlyList<double>> { [custom.Key] = custom.Value } });
        Assert.Equal([0.1, 1, 10], metrics.Registry.Descriptors.Single(d => d.Name == "sluice_time_to_first_token_seconds").Buckets!);
        Assert.Contains("sluice_time_to_first_token_seconds_bucket{le=\"10\"} 0", metrics.Render());

        var ex = Assert.Throws<ArgumentException>(() => OfflineMetrics.Create(new MetricsOptions
        {
            Buckets = new Dictionary<string, IReadOnlyList<double>> { ["sluice_nope_seconds"] = [1] },
        }));
        Assert.Contains("sluice_nope_seconds", ex.Message);
        Assert.Throws<FormatException>(() => MetricsOptions.ParseBuckets("x=2,1"));
        Assert.Throws<FormatException>(() => MetricsOptions.ParseBuckets("x=fast"));
    }
}
