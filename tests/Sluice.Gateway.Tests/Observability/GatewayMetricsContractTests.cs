using System.Text.RegularExpressions;
using Microsoft.Extensions.Time.Testing;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Routing;
using Sluice.Hosting.Metrics.Exposition;

namespace Sluice.Gateway.Tests.Observability;

/// <summary>docs/gateway.md's metrics table and the registry agree: every name, type and label list.</summary>
public sealed partial class GatewayMetricsContractTests
{
    [GeneratedRegex(@"^\| `(sluice_gateway_[a-z_]+)` \| (counter|gauge|histogram) \| ([a-z_, ]+) \|", RegexOptions.Multiline)]
    private static partial Regex Row();

    [Fact]
    public void Registry_MatchesTheTableInDocsGateway()
    {
        string doc = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "gateway.md"));
        var documented = Row().Matches(doc).ToDictionary(m => m.Groups[1].Value,
            m => (m.Groups[2].Value, string.Join(",", m.Groups[3].Value.Split(',', StringSplitOptions.TrimEntries))));
        var registry = new GatewayMetrics(new Router(new FakeTimeProvider())).Registry.Descriptors.Where(d => d.Name.StartsWith("sluice_gateway_", StringComparison.Ordinal)).ToDictionary(d => d.Name,
            d => (d.Type switch { MetricType.Counter => "counter", MetricType.Gauge => "gauge", _ => "histogram" }, string.Join(",", d.Labels)));
        Assert.Equal(registry.OrderBy(kv => kv.Key), documented.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void Registry_ServesTheProcessSeriesEveryHostServes()
    {
        var names = new GatewayMetrics(new Router(new FakeTimeProvider())).Registry.Descriptors.Select(d => d.Name).ToHashSet();
        Assert.Contains("process_cpu_seconds_total", names);
        Assert.Contains("sluice_gc_allocated_bytes_total", names);
        Assert.Contains("sluice_gc_heap_bytes", names);
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sluice.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Sluice.sln not found");
    }
}
