using Sluice.Server.Tests.Metrics;
using Sluice.Server.Tests.Support;
using Sluice.Tests.Shared;
using YamlDotNet.RepresentationModel;

namespace Sluice.Server.Tests.Deploy;

/// <summary>deploy/prometheus: rules that promtool accepts and whose unit tests pass, each with a runbook and on documented metrics.</summary>
public sealed class AlertRulesTests
{
    private const string Rules = "deploy/prometheus/sluice-alerts.yml";
    private const string RuleTests = "deploy/prometheus/tests/sluice-alerts.test.yml";

    private static List<YamlMappingNode> LoadRules()
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(RepoFiles.Read(Rules)));
        var groups = (YamlSequenceNode)((YamlMappingNode)yaml.Documents[0].RootNode)["groups"];
        return [.. groups.Cast<YamlMappingNode>().SelectMany(g => ((YamlSequenceNode)g["rules"]).Cast<YamlMappingNode>())];
    }

    private static string Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(key, out var v) ? ((YamlScalarNode)v).Value ?? "" : "";

    [Fact]
    public void EveryConditionTheRunbooksPageOn_HasARule()
    {
        var names = LoadRules().Select(r => Scalar(r, "alert")).ToHashSet();
        foreach (var expected in new[] { "SluiceHighErrorRate", "SluiceHighLatencyP99", "SluiceHighTtftP95", "SluiceQueueBuildUp", "SluiceKvCacheHigh",
            "SluicePreemptionBurst", "SluiceHighMemory", "SluiceDown" })
        {
            Assert.Contains(expected, names);
        }
    }

    [Fact]
    public void EveryRule_LinksAnExistingRunbook_UsesDocumentedMetrics_AndHasAUnitTest()
    {
        var doc = MetricsDoc.Load();
        string tests = RepoFiles.Read(RuleTests);
        foreach (var rule in LoadRules())
        {
            string name = Scalar(rule, "alert");
            var annotations = (YamlMappingNode)rule["annotations"];
            string runbook = Scalar(annotations, "runbook_url");
            Assert.True(DeployReferences.LinkExists(runbook), $"{name}: runbook_url '{runbook}' is not a file and heading in the repository");
            Assert.NotEmpty(Scalar(annotations, "summary"));
            Assert.NotEmpty(Scalar((YamlMappingNode)rule["labels"], "severity"));
            Assert.Empty(DeployReferences.Undocumented(Scalar(rule, "expr"), doc));
            Assert.True(tests.Contains($"alertname: {name}\n        exp_alerts:\n          - exp_labels", StringComparison.Ordinal), $"{name} has no firing case in {RuleTests}");
            Assert.True(tests.Contains($"alertname: {name}\n        exp_alerts: []", StringComparison.Ordinal), $"{name} has no silent case in {RuleTests}");
        }
    }

    [SkippableFact]
    public async Task Promtool_PassesEveryRuleUnitTest()
    {
        string promtool = Promtool.Require();
        var (rc, output) = await Promtool.RunAsync(promtool, ["test", "rules", "tests/sluice-alerts.test.yml"], workingDirectory: RepoFiles.PathOf("deploy/prometheus"));
        Assert.True(rc == 0, output);
        Assert.Contains("SUCCESS", output);
    }

    [SkippableFact]
    public async Task Promtool_AcceptsTheScrapeConfigAndRules()
    {
        string promtool = Promtool.Require();
        var dir = Directory.CreateTempSubdirectory("sluice-prom-");
        try
        {
            foreach (var file in new[] { "prometheus.yml", "sluice-alerts.yml" })
            {
                File.Copy(RepoFiles.PathOf("deploy/prometheus/" + file), Path.Combine(dir.FullName, file));
            }
            File.WriteAllText(Path.Combine(dir.FullName, "sluice-api-key"), "sk-scraper\n");
            var (rc, output) = await Promtool.RunAsync(promtool, ["check", "config", Path.Combine(dir.FullName, "prometheus.yml")]);
            Assert.True(rc == 0, output);
            Assert.Contains("12 rules found", output);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
