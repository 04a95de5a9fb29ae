using System.Text.Json;
using System.Text.RegularExpressions;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Routing;
using Sluice.Hosting.Metrics.Exposition;
using Sluice.Server.Tests.Metrics;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Deploy;

/// <summary>
/// deploy/grafana: a dashboard that parses, covers latency, throughput, queue, KV, errors, memory and GC, startup and
/// kernel path, and the gateway's canary versus stable, and queries only published metrics: the server's from
/// docs/metrics.md, the gateway's from its own registry.
/// </summary>
public sealed partial class DashboardTests
{
    [GeneratedRegex(@"\bsluice_gateway_[a-z0-9_]+")]
    private static partial Regex GatewayMetricName();

    [Fact]
    public void Dashboard_Parses_AndEveryQueriedMetricIsPublished()
    {
        using var json = JsonDocument.Parse(RepoFiles.Read("deploy/grafana/sluice-dashboard.json"));
        var root = json.RootElement;
        Assert.False(string.IsNullOrEmpty(root.GetProperty("uid").GetString()));
        var doc = MetricsDoc.Load();
        var gateway = new GatewayMetrics(new Router(TimeProvider.System)).Registry.Descriptors;
        var panels = root.GetProperty("panels").EnumerateArray().ToList();
        var rows = panels.Where(p => p.GetProperty("type").GetString() == "row").Select(p => p.GetProperty("title").GetString()).ToList();
        Assert.Equal(["Latency", "Throughput", "Queue", "KV cache", "Errors", "Memory and GC", "Startup and build", "Gateway: canary vs stable"], rows);

        var ids = new HashSet<int>();
        string row = "";
        foreach (var panel in panels)
        {
            string title = panel.GetProperty("title").GetString()!;
            Assert.True(ids.Add(panel.GetProperty("id").GetInt32()), $"duplicate panel id at '{title}'");
            if (panel.GetProperty("type").GetString() == "row")
            {
                row = title;
                continue;
            }
            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            Assert.NotEmpty(targets);
            foreach (var target in targets)
            {
                string expr = target.GetProperty("expr").GetString()!;
                Assert.Contains(row.StartsWith("Gateway", StringComparison.Ordinal) ? "$gateway_job" : "$instance", expr);
                var undocumented = DeployReferences.Undocumented(GatewayMetricName().Replace(expr, ""), doc).ToList();
                Assert.True(undocumented.Count == 0, $"'{title}' queries {string.Join(", ", undocumented)}, not in docs/metrics.md");
                foreach (Match m in GatewayMetricName().Matches(expr))
                {
                    string family = Regex.Replace(m.Value, "_(bucket|sum|count)$", "");
                    Assert.True(gateway.Any(d => d.Name == m.Value && d.Type != MetricType.Histogram || d.Name == family && family != m.Value && d.Type == MetricType.Histogram),
                        $"'{title}' queries {m.Value}, which the gateway does not publish");
                }
            }
        }
    }

    [Fact]
    public void Dashboard_HasThePanelsRunbooksAskFor()
    {
        string text = RepoFiles.Read("deploy/grafana/sluice-dashboard.json");
        foreach (var needle in new[]
        {
            "sluice_gc_pause_seconds_total", "sluice_gc_collections_total", "sluice_startup_seconds", "kernel_path",
            "sluice_gateway_time_to_first_token_seconds_bucket", "sluice_gateway_inter_token_latency_seconds_bucket",
            "sluice_gateway_traffic_percent", "sum by (version)",
        })
        {
            Assert.Contains(needle, text, StringComparison.Ordinal);
        }
    }
}
