using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Time.Testing;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Routing;
using YamlDotNet.RepresentationModel;

namespace Sluice.Gateway.Tests.Deploy;

/// <summary>
/// deploy/prometheus/sluice-gateway-alerts.yml: promtool accepts it and passes its unit tests; every rule reads only what
/// <see cref="GatewayMetrics"/> exports, links a runbook heading that exists and names it, and has a firing and a silent case.
/// </summary>
public sealed partial class GatewayAlertRulesTests
{
    private const string Rules = "deploy/prometheus/sluice-gateway-alerts.yml";
    private const string RuleTests = "deploy/prometheus/tests/sluice-gateway-alerts.test.yml";

    [GeneratedRegex(@"\b(?:sluice_[a-z0-9_]*[a-z0-9]|process_[a-z0-9_]*[a-z0-9])\b")]
    private static partial Regex MetricName();

    [Fact]
    public void EveryConditionTheGatewayRunbookPagesOn_HasARule()
    {
        var names = LoadRules().Select(r => Scalar(r, "alert")).ToHashSet();
        foreach (var expected in new[] { "SluiceGatewayCircuitOpen", "SluiceGatewayFailoverStorm", "SluiceGatewayHighErrorRate",
            "SluiceGatewayAddedLatencyHigh", "SluiceGatewayCanaryRolledBack", "SluiceGatewayNoBackendReady", "SluiceGatewayDown" })
        {
            Assert.Contains(expected, names);
        }
    }

    [Fact]
    public void EveryRule_ReadsExportedMetrics_LinksARunbookThatNamesIt_AndHasAFiringAndASilentCase()
    {
        string tests = File.ReadAllText(PathOf(RuleTests));
        foreach (var rule in LoadRules())
        {
            string name = Scalar(rule, "alert");
            Assert.Empty(Unexported(Scalar(rule, "expr")));
            var annotations = (YamlMappingNode)rule["annotations"];
            string runbook = Scalar(annotations, "runbook_url");
            var parts = runbook.Split('#', 2);
            Assert.True(File.Exists(PathOf(parts[0])), $"{name}: runbook {parts[0]} does not exist");
            string text = File.ReadAllText(PathOf(parts[0]));
            Assert.True(parts.Length == 1 || text.Split('\n').Where(l => l.StartsWith('#')).Select(Slug).Contains(parts[1]), $"{name}: {runbook} has no such heading");
            Assert.True(text.Contains($"**{name}**", StringComparison.Ordinal), $"{name}: {parts[0]} does not name it");
            Assert.NotEmpty(Scalar(annotations, "summary"));
            Assert.Contains(Scalar((YamlMappingNode)rule["labels"], "severity"), new[] { "page", "warning" });
            Assert.True(tests.Contains($"alertname: {name}\n        exp_alerts:\n          - exp_labels", StringComparison.Ordinal), $"{name} has no firing case in {RuleTests}");
            Assert.True(tests.Contains($"alertname: {name}\n        exp_alerts: []", StringComparison.Ordinal), $"{name} has no silent case in {RuleTests}");
        }
    }

    [Fact]
    public void Unexported_AMetricTheGatewayDoesNotExport_IsNamed()
    {
        Assert.Equal(["sluice_gateway_backend_open_circuits", "sluice_gateway_request_error_total"],
            Unexported("sum(sluice_gateway_backend_open_circuits) > 0 and rate(sluice_gateway_request_error_total[5m]) > rate(sluice_gateway_requests_total[5m]) or up == 0"));
    }

    [SkippableFact]
    public async Task Promtool_ChecksTheRules_AndPassesEveryUnitTest()
    {
        string promtool = RequirePromtool();
        var (rc, output) = await RunAsync(promtool, ["check", "rules", "sluice-gateway-alerts.yml"]);
        Assert.True(rc == 0, output);
        Assert.Contains("SUCCESS: 9 rules found", output);
        (rc, output) = await RunAsync(promtool, ["test", "rules", "tests/sluice-gateway-alerts.test.yml"]);
        Assert.True(rc == 0, output);
        Assert.Contains("SUCCESS", output);
    }

    [SkippableFact]
    public async Task Promtool_ARuleTestExpectingTheWrongAnnotation_Fails()
    {
        string promtool = RequirePromtool();
        string bad = Path.Combine(PathOf("deploy/prometheus/tests"), $"bad-{Guid.NewGuid():N}.test.yml");
        File.WriteAllText(bad, File.ReadAllText(PathOf(RuleTests)).Replace("20% of requests fail over", "19% of requests fail over", StringComparison.Ordinal));
        try
        {
            var (rc, output) = await RunAsync(promtool, ["test", "rules", Path.GetRelativePath(PathOf("deploy/prometheus"), bad)]);
            Assert.NotEqual(0, rc);
            Assert.Contains("SluiceGatewayFailoverStorm", output);
        }
        finally
        {
            File.Delete(bad);
        }
    }

    /// <summary>Metric names in a PromQL expression that the gateway's registry does not define (`up` is Prometheus' own and not looked at).</summary>
    private static List<string> Unexported(string promql)
    {
        var families = new GatewayMetrics(new Router(new FakeTimeProvider())).Registry.Descriptors
            .SelectMany(d => d.Type == Hosting.Metrics.Exposition.MetricType.Histogram
                ? new[] { d.Name + "_bucket", d.Name + "_sum", d.Name + "_count" } : [d.Name]).ToHashSet();
        return [.. MetricName().Matches(promql).Select(m => m.Value).Where(n => !families.Contains(n)).Distinct()];
    }

    private static List<YamlMappingNode> LoadRules()
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(PathOf(Rules))));
        var groups = (YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["groups"];
        return [.. groups.Cast<YamlMappingNode>().SelectMany(g => ((YamlSequenceNode)g["rules"]).Cast<YamlMappingNode>())];
    }

    private static string Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(key, out var v) ? ((YamlScalarNode)v).Value ?? "" : "";

    /// <summary>GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens.</summary>
    private static string Slug(string heading) =>
        new string(heading.TrimStart('#').Trim().ToLowerInvariant().Where(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_').ToArray()).Replace(' ', '-');

    private static string RequirePromtool()
    {
        string? path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "promtool")).FirstOrDefault(File.Exists);
        bool ci = Environment.GetEnvironmentVariable("CI") == "true";
        Skip.If(path is null && !ci, "promtool is not installed (apt-get install prometheus; test.sh does)");
        Assert.True(path is not null, "promtool is not installed: test.sh installs Debian's prometheus package");
        return path!;
    }

    private static async Task<(int Rc, string Output)> RunAsync(string promtool, string[] args)
    {
        var start = new ProcessStartInfo(promtool, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = PathOf("deploy/prometheus") };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    private static string PathOf(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Sluice.sln")))
            {
                return Path.Combine(dir.FullName, relative);
            }
        }
        throw new InvalidOperationException("Sluice.sln not found");
    }
}
