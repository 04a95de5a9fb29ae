using System.Text.Json;
using Sluice.Server.Tests.Metrics;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Deploy;

/// <summary>deploy/grafana: a dashboard that parses, covers latency, throughput, queue, KV and errors, and queries only published metrics.</summary>
public sealed class DashboardTests
{
    [Fact]
    public void Dashboard_Parses_AndEveryQueriedMetricIsDocumented()
    {
        using var json = JsonDocument.Parse(RepoFiles.Read("deploy/grafana/sluice-dashboard.json"));
        var root = json.RootElement;
        Assert.False(string.IsNullOrEmpty(root.GetProperty("uid").GetString()));
        var doc = MetricsDoc.Load();
        var panels = root.GetProperty("panels").EnumerateArray().ToList();
        var rows = panels.Where(p => p.GetProperty("type").GetString() == "row").Select(p => p.GetProperty("title").GetString()).ToList();
        Assert.Equal(["Latency", "Throughput", "Queue", "KV cache", "Errors"], rows);

        var ids = new HashSet<int>();
        foreach (var panel in panels.Where(p => p.GetProperty("type").GetString() != "row"))
        {
            string title = panel.GetProperty("title").GetString()!;
            Assert.True(ids.Add(panel.GetProperty("id").GetInt32()), $"duplicate panel id at '{title}'");
            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            Assert.NotEmpty(targets);
            foreach (var target in targets)
            {
                string expr = target.GetProperty("expr").GetString()!;
                Assert.Contains("$instance", expr);
                Assert.Empty(DeployReferences.Undocumented(expr, doc));
            }
        }
    }
}
