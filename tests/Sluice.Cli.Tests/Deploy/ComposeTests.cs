using Sluice.Cli.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace Sluice.Cli.Tests.Deploy;

/// <summary>deploy/compose: `docker-compose config` accepts it, it has the whole stack, and its sluice commands use real flags.</summary>
public sealed class ComposeTests
{
    private const string File = "deploy/compose/compose.yaml";

    [SkippableFact]
    public void DockerCompose_Config_AcceptsTheStack()
    {
        string compose = Tools.Require("docker-compose", "Debian package docker-compose");
        var (rc, output) = Tools.Run(compose, ["-f", RepoFiles.PathOf(File), "config", "--services"], RepoFiles.PathOf("deploy/compose"));
        Assert.True(rc == 0, output);
        Assert.Equivalent(new[] { "serve", "gateway", "redis", "postgres", "prometheus", "grafana" },
            output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [SkippableFact]
    public void DockerCompose_Config_RefusesAMalformedService()
    {
        string compose = Tools.Require("docker-compose", "Debian package docker-compose");
        string bad = Path.Combine(RepoFiles.PathOf("deploy/compose"), $"bad-{Guid.NewGuid():N}.yaml");
        System.IO.File.WriteAllText(bad, RepoFiles.Read(File).Replace("ports: [\"8000:8000\"]", "ports: 8000", StringComparison.Ordinal));
        try
        {
            var (rc, output) = Tools.Run(compose, ["-f", bad, "config"], RepoFiles.PathOf("deploy/compose"));
            Assert.NotEqual(0, rc);
            Assert.Contains("services.serve.ports", output);
        }
        finally
        {
            System.IO.File.Delete(bad);
        }
    }

    [Fact]
    public void Compose_SluiceCommandsUseRealFlags_AndMountTheRulesAndDashboards()
    {
        var doc = Manifests.Parse(RepoFiles.Read(File)).Single();
        var services = Manifests.Map(doc, "services")!;
        foreach (var name in new[] { "serve", "gateway" })
        {
            var command = Manifests.Seq(Manifests.Map(services, name), "command").OfType<YamlScalarNode>().Select(s => s.Value!).ToList();
            Assert.Equal(name, command[0]);
            Assert.Empty(DeployChecks.UnknownFlags(command, $"compose {name}"));
        }
        string text = RepoFiles.Read(File);
        Assert.Contains("../prometheus/sluice-alerts.yml:/etc/prometheus/sluice-alerts.yml", text);
        Assert.Contains("../grafana:/var/lib/grafana/dashboards", text);
        Assert.True(System.IO.File.Exists(RepoFiles.PathOf("deploy/grafana/sluice-dashboard.json")));
        Assert.Contains("sluice-alerts.yml", RepoFiles.Read("deploy/compose/prometheus.yml"));
        Assert.Contains("../prometheus/sluice-gateway-alerts.yml:/etc/prometheus/sluice-gateway-alerts.yml", text);
    }

    [SkippableFact]
    public void Promtool_AcceptsTheComposePrometheusConfig_WithTheServerAndGatewayRules()
    {
        string promtool = Tools.Require("promtool", "Debian package prometheus");
        var dir = Directory.CreateTempSubdirectory("sluice-compose-prom-");
        try
        {
            // the files where compose mounts them, side by side
            System.IO.File.Copy(RepoFiles.PathOf("deploy/compose/prometheus.yml"), Path.Combine(dir.FullName, "prometheus.yml"));
            foreach (var rules in new[] { "sluice-alerts.yml", "sluice-gateway-alerts.yml" })
            {
                System.IO.File.Copy(RepoFiles.PathOf("deploy/prometheus/" + rules), Path.Combine(dir.FullName, rules));
            }
            var (rc, output) = Tools.Run(promtool, ["check", "config", Path.Combine(dir.FullName, "prometheus.yml")]);
            Assert.True(rc == 0, output);
            Assert.Contains("sluice-gateway-alerts.yml", output);
            Assert.Matches(@"sluice-gateway-alerts\.yml\s+SUCCESS: 9 rules found", output);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
