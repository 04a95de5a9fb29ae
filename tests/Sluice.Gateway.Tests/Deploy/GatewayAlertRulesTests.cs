using System.Text.RegularExpressions;
using Microsoft.Extensions.Time.Testing;
using Sluice.Cli.Alerts;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Routing;
using Sluice.Tests.Shared;
using YamlDotNet.RepresentationModel;

namespace Sluice.Gateway.Tests.Deploy;

/// <summary>
/// deploy/prometheus/sluice-gateway-alerts.yml, the default rendering of sluice-gateway-alerts.template.yml (job label and
/// thresholds as variables): promtool accepts it and passes its unit tests, for the default job and another; every rule reads only what
/// <see cref="GatewayMetrics"/> exports, links a runbook heading that exists and names it, and has a firing and a silent case.
/// </summary>
public sealed partial class GatewayAlertRulesTests
{
    private const string Rules = "deploy/prometheus/sluice-gateway-alerts.yml";
    private const string RuleTests = "deploy/prometheus/tests/sluice-gateway-alerts.test.yml";
    private const string TemplateFile = "deploy/prometheus/sluice-gateway-alerts.template.yml";

    private static AlertTemplate Template() => AlertTemplate.Parse(File.ReadAllText(PathOf(TemplateFile)), TemplateFile);

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

    [Fact]
    public void DefaultRendering_IsTheCommittedRulesFile()
    {
        Assert.Equal(File.ReadAllText(PathOf(Rules)), Template().Render(new Dictionary<string, string>()));
    }

    [Fact]
    public void Render_JobAndThresholds_LandInEverySelectorAndRule()
    {
        string rules = Template().Render(new Dictionary<string, string>
        {
            ["job"] = "litellm",
            ["error_rate_percent"] = "2",
            ["added_latency_p99_seconds"] = "0.2",
            ["failover_percent"] = "25",
        });

        Assert.DoesNotContain("sluice-gateway\"", rules, StringComparison.Ordinal);
        Assert.DoesNotContain("${", rules, StringComparison.Ordinal);
        Assert.Contains("up{job=\"litellm\"} == 0", rules, StringComparison.Ordinal);
        Assert.Contains("> 2 / 100", rules, StringComparison.Ordinal);
        Assert.Contains("More than 2% of requests", rules, StringComparison.Ordinal);
        Assert.Contains("[5m])))\n            > 0.2\n", rules, StringComparison.Ordinal);
        Assert.Contains("> 25 / 100", rules, StringComparison.Ordinal);
        // every metric an expression reads (a name followed by a selector, a range or a parenthesis) selects the job
        var read = MetricName().Matches(rules).Where(m => rules.Length > m.Index + m.Length && rules[m.Index + m.Length] is '{' or '[' or ')').ToList();
        Assert.True(read.Count >= 10, $"only {read.Count} metric reads found");
        Assert.All(read, m => Assert.True(rules.AsSpan(m.Index + m.Length).StartsWith("{job=\"litellm\""), $"{m.Value} at {m.Index} does not select job litellm"));
    }

    [Fact]
    public void Variables_AreEachDocumentedInTheReadme()
    {
        string readme = File.ReadAllText(PathOf("deploy/prometheus/README.md"));
        Assert.All(Template().Variables, v => Assert.Contains($"`{v.Name}`", readme[readme.IndexOf("sluice-gateway-alerts.template.yml", StringComparison.Ordinal)..], StringComparison.Ordinal));
    }

    [SkippableTheory]
    [InlineData("sluice-gateway")]
    [InlineData("vllm")]
    public async Task Promtool_ChecksTheRules_AndPassesEveryUnitTest_OnARendering(string job)
    {
        string promtool = Promtool.Require();
        var dir = Directory.CreateTempSubdirectory("sluice-gateway-alerts-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "sluice-gateway-alerts.yml"), Template().Render(new Dictionary<string, string> { ["job"] = job }));
            // the unit tests' series and expected labels, scraped under the rendered job
            string tests = File.ReadAllText(PathOf(RuleTests))
                .Replace("job=\"sluice-gateway\"", $"job=\"{job}\"", StringComparison.Ordinal)
                .Replace("job: sluice-gateway", $"job: {job}", StringComparison.Ordinal)
                .Replace("../sluice-gateway-alerts.yml", "sluice-gateway-alerts.yml", StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(dir.FullName, "tests.yml"), tests);
            var (rc, output) = await Promtool.RunAsync(promtool, ["check", "rules", "sluice-gateway-alerts.yml"], workingDirectory: dir.FullName);
            Assert.True(rc == 0, output);
            Assert.Contains("SUCCESS: 9 rules found", output);
            (rc, output) = await Promtool.RunAsync(promtool, ["test", "rules", "tests.yml"], workingDirectory: dir.FullName);
            Assert.True(rc == 0, output);
            Assert.Contains("SUCCESS", output);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [SkippableFact]
    public async Task Promtool_ARuleOfAnotherJob_DoesNotFireOnTheRenderedJobsSeries()
    {
        string promtool = Promtool.Require();
        var dir = Directory.CreateTempSubdirectory("sluice-gateway-alerts-");
        try
        {
            // rules rendered for job vllm, series scraped as sluice-gateway: the firing cases must now fail
            File.WriteAllText(Path.Combine(dir.FullName, "sluice-gateway-alerts.yml"), Template().Render(new Dictionary<string, string> { ["job"] = "vllm" }));
            File.WriteAllText(Path.Combine(dir.FullName, "tests.yml"),
                File.ReadAllText(PathOf(RuleTests)).Replace("../sluice-gateway-alerts.yml", "sluice-gateway-alerts.yml", StringComparison.Ordinal));
            var (rc, output) = await Promtool.RunAsync(promtool, ["test", "rules", "tests.yml"], workingDirectory: dir.FullName);
            Assert.NotEqual(0, rc);
            Assert.Contains("SluiceGatewayDown", output);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [SkippableFact]
    public async Task Promtool_ARuleTestExpectingTheWrongAnnotation_Fails()
    {
        string promtool = Promtool.Require();
        string bad = Path.Combine(PathOf("deploy/prometheus/tests"), $"bad-{Guid.NewGuid():N}.test.yml");
        File.WriteAllText(bad, File.ReadAllText(PathOf(RuleTests)).Replace("20% of requests fail over", "19% of requests fail over", StringComparison.Ordinal));
        try
        {
            var (rc, output) = await Promtool.RunAsync(promtool, ["test", "rules", Path.GetRelativePath(PathOf("deploy/prometheus"), bad)],
                workingDirectory: PathOf("deploy/prometheus"));
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
