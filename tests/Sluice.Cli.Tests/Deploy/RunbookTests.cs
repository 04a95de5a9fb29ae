using Sluice.Cli.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace Sluice.Cli.Tests.Deploy;

/// <summary>docs/runbooks: one per incident type, and every metric, endpoint, command, flag and alert they name exists.</summary>
public sealed class RunbookTests
{
    private static readonly string[] IncidentTypes =
    [
        "error-rate.md", "memory.md", "latency.md", "queueing.md", "kv-cache.md", "wrong-output.md", "release-rollback.md",
        "gateway.md", "keys-and-limits.md", "tls.md", "model-loading.md", "scheduling.md", "down.md",
    ];

    /// <summary>The alerts of the server's and the gateway's rule files.</summary>
    private static HashSet<string> Alerts()
    {
        var alerts = new HashSet<string>();
        foreach (var file in new[] { "deploy/prometheus/sluice-alerts.yml", "deploy/prometheus/sluice-gateway-alerts.yml" })
        {
            var yaml = new YamlStream();
            yaml.Load(new StringReader(RepoFiles.Read(file)));
            alerts.UnionWith(yaml.Documents[0].AllNodes.OfType<YamlMappingNode>().Select(n => Manifests.Scalar(n, "alert")).OfType<string>());
        }
        return alerts;
    }

    [Fact]
    public void Runbooks_EveryIncidentType_HasOneWithAlertConfirmationCausesFixAndVerification()
    {
        foreach (var file in IncidentTypes)
        {
            string text = RepoFiles.Read("docs/runbooks/" + file);
            Assert.True(text.Contains("sluice doctor", StringComparison.Ordinal), $"{file} does not confirm with sluice doctor");
            Assert.True(text.Contains("Alert", StringComparison.Ordinal), $"{file} names no alert");
            Assert.True(text.Contains("## Verify", StringComparison.Ordinal), $"{file} has no Verify section");
            Assert.True(RepoFiles.Read("docs/runbooks/README.md").Contains($"({file}", StringComparison.Ordinal), $"README.md does not link {file}");
        }
    }

    [Fact]
    public async Task Runbooks_EveryNamedMetricEndpointCommandFlagAndAlert_Exists()
    {
        var surface = await LiveSurface.ReadAsync();
        Assert.Contains("/admin/models/{name}/rollback", surface.Routes);
        Assert.Contains("sluice_gateway_backend_circuit_state", surface.Metrics);
        var alerts = Alerts();
        var problems = Directory.GetFiles(RepoFiles.PathOf("docs/runbooks"), "*.md")
            .SelectMany(f => RunbookChecks.Problems(Path.GetFileName(f), File.ReadAllText(f), surface, alerts)).ToList();
        Assert.Empty(problems);
    }

    [Fact]
    public async Task Runbooks_ARunbookNamingWhatDoesNotExist_FailsWithEachName()
    {
        var surface = await LiveSurface.ReadAsync();
        string bad = """
            Alert: **SluiceMadeUpAlert**, **SluiceGatewayCircuitOpen**. Check `sluice_requests_waiting` and `sluice_made_up_total`.
            ```sh
            curl -s http://HOST:8000/health/ready
            curl -s http://HOST:8000/v1/nothing
            sluice doctor --url http://HOST:8000 --window 30 --verbose
            sluice frobnicate --now
            ```
            Raise `--max-num-seqs`, or `--max-num-seq`.
            """;
        var problems = RunbookChecks.Problems("bad.md", bad, surface, Alerts()).ToList();
        Assert.Equal(
        [
            "bad.md: metric sluice_made_up_total is not exported",
            "bad.md: endpoint /v1/nothing is no route of the server or gateway",
            "bad.md: alert SluiceMadeUpAlert is in no rule file of deploy/prometheus",
            "bad.md: `sluice doctor` has no flag --verbose",
            "bad.md: command `sluice frobnicate` does not exist",
            "bad.md: --max-num-seq is no flag of any sluice command",
        ], problems);
    }
}
