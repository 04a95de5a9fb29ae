using System.Text;
using Sluice.Cli.Tests.Support;
using Sluice.Gateway.Configuration;
using YamlDotNet.RepresentationModel;

namespace Sluice.Cli.Tests.Deploy;

/// <summary>
/// deploy/helm/sluice, rendered by Helm itself. Its renderings also go through every check in <see cref="ManifestTests"/>
/// (schemas with unknown fields refused, flags, ports, probe paths, grace periods), through <see cref="Manifests.All"/>.
/// </summary>
public sealed class HelmChartTests
{
    [SkippableFact]
    public void Lint_DefaultAndProductionValues_PassStrictLint()
    {
        foreach (var args in new[] { new[] { "lint", "--strict", Helm.Chart }, ["lint", "--strict", Helm.Chart, "-f", Helm.ProductionValues] })
        {
            var (rc, output) = Helm.Run(args);
            Assert.True(rc == 0, $"helm {string.Join(' ', args)}: {output}");
            Assert.Contains("0 chart(s) failed", output);
        }
    }

    [SkippableFact]
    public void DefaultValues_RenderWhatTheKustomizeBasesRender()
    {
        var helm = Manifests.Parse(Manifests.HelmRenderings[Manifests.HelmRenderingArgs[0].Name]);
        var kustomize = Manifests.Parse(Manifests.Renderings["deploy/kubernetes/base/server"])
            .Concat(Manifests.Parse(Manifests.Renderings["deploy/kubernetes/base/gateway"])).ToList();
        Assert.Equal(kustomize.Select(Key).Order(), helm.Select(Key).Order());
        var differences = new List<string>();
        foreach (var k in kustomize)
        {
            var h = helm.Single(d => Key(d) == Key(k));
            string a = Canonical(Comparable(k)), b = Canonical(Comparable(h));
            if (a != b)
            {
                differences.Add($"{Key(k)}:\n  kustomize {a}\n  helm      {b}");
            }
        }
        Assert.True(differences.Count == 0, string.Join('\n', differences));
    }

    [SkippableFact]
    public void ProductionValues_RenderKedaOwnKeysHardAntiAffinityAndTheRegistryImage()
    {
        var docs = Manifests.Parse(Manifests.HelmRenderings[Manifests.HelmRenderingArgs[1].Name]);
        var kinds = docs.Select(Manifests.Kind).ToList();
        Assert.Contains("ScaledObject", kinds);
        Assert.DoesNotContain("HorizontalPodAutoscaler", kinds); // KEDA owns the HPA
        Assert.DoesNotContain("Secret", kinds); // existingSecret
        var server = docs.Single(d => Manifests.Kind(d) == "Deployment" && Manifests.Name(d) == "sluice-server");
        Assert.Null(Manifests.Scalar(Manifests.Map(server, "spec"), "replicas")); // the autoscaler sets it
        var pod = Manifests.Map(server, "spec", "template", "spec")!;
        Assert.NotNull(Manifests.Map(pod, "affinity", "podAntiAffinity")!.Children[new YamlScalarNode("requiredDuringSchedulingIgnoredDuringExecution")]);
        Assert.Single(Manifests.Seq(pod, "topologySpreadConstraints"));
        var container = Manifests.Containers(server).Single();
        Assert.Equal("registry.example.com/sluice:0.1.0", Manifests.Scalar(container, "image"));
        Assert.Contains("--threads=30", Manifests.Args(container));
        Assert.Equal("sluice-keys", Manifests.Scalar(Manifests.Seq(pod, "volumes").OfType<YamlMappingNode>()
            .Select(v => Manifests.Map(v, "secret")).Single(s => s is not null), "secretName"));
        var keda = docs.Single(d => Manifests.Kind(d) == "ScaledObject");
        string query = Manifests.Scalar(Manifests.Seq(Manifests.Map(keda, "spec"), "triggers").OfType<YamlMappingNode>().Single()
            .Children[new YamlScalarNode("metadata")] as YamlMappingNode, "query")!;
        Assert.Equal("sum(sluice_requests_waiting{namespace=\"sluice\",service=\"sluice-server\"})", query);
    }

    [SkippableTheory]
    [InlineData("server.replicaz=3", "additional properties 'replicaz' not allowed")]
    [InlineData("server.podAntiAffinity=sometimes", "podAntiAffinity")]
    [InlineData("server.extraArgs={threads=8}", "extraArgs/0")]
    [InlineData("server.terminationGracePeriodSeconds=20", "server.terminationGracePeriodSeconds 20 is less than preStopSeconds 10 + shutdownTimeout 30 + 5")]
    [InlineData("gateway.preStopSeconds=30", "gateway.terminationGracePeriodSeconds 45 is less than preStopSeconds 30 + shutdownTimeout 30 + 5")]
    [InlineData("server.autoscaling.keda.enabled=true", "enable hpa or keda, not both")]
    [InlineData("server.enabled=false", "gateway.config.models: name the backends when server.enabled is false")]
    public void BadValues_AreRefusedNamingTheValue(string set, string expected)
    {
        var (rc, output) = Helm.Run("template", "sluice", Helm.Chart, "--set", set);
        Assert.NotEqual(0, rc);
        Assert.Contains(expected, output);
    }

    [SkippableFact]
    public void ExtraArgs_ThatIsNoFlagOfServe_IsReportedByTheFlagCheck()
    {
        var docs = Manifests.Parse(Helm.Template("--set", "server.extraArgs={--max-num-seq=4}"));
        var server = docs.Single(d => Manifests.Kind(d) == "Deployment" && Manifests.Name(d) == "sluice-server");
        Assert.Equal(["helm sluice-server: `sluice serve` has no flag --max-num-seq"],
            DeployChecks.UnknownFlags(Manifests.Args(Manifests.Containers(server).Single()), "helm sluice-server"));
    }

    [SkippableFact]
    public void GatewayConfig_EveryRenderedGatewayYaml_IsReadByTheGateway_AndATypoIsRefused()
    {
        int read = 0;
        foreach (var (source, doc) in Manifests.All())
        {
            if (Manifests.Kind(doc) == "ConfigMap" && Manifests.Scalar(Manifests.Map(doc, "data"), "gateway.yaml") is { } yaml)
            {
                var ex = Record.Exception(() => GatewayConfigReader.Parse(yaml));
                Assert.True(ex is null, $"{source} {Manifests.Name(doc)}: {ex?.Message}");
                read++;
            }
        }
        Assert.True(read >= 4, $"only {read} gateway.yaml found"); // two Kustomize renderings with the gateway, two Helm ones
        var typo = Manifests.Parse(Helm.Template("--set", "gateway.config.retry.max_attemptz=3")).Single(d => Manifests.Kind(d) == "ConfigMap"
            && Manifests.Name(d) == "sluice-gateway-config");
        var error = Assert.Throws<GatewayConfigException>(() => GatewayConfigReader.Parse(Manifests.Scalar(Manifests.Map(typo, "data"), "gateway.yaml")!));
        Assert.Contains("max_attemptz", error.Message);
    }

    [SkippableFact]
    public void PrometheusRules_OfKustomizeAndHelm_HoldTheGatewayRulesFilesGroups()
    {
        const string Source = "deploy/prometheus/sluice-gateway-alerts.yml";
        Assert.Equal(RepoFiles.Read(Source), RepoFiles.Read("deploy/helm/sluice/files/sluice-gateway-alerts.yml"));
        string groups = Canonical(Manifests.Parse(RepoFiles.Read(Source)).Single().Children[new YamlScalarNode("groups")]);
        var rules = Manifests.All().Where(d => Manifests.Kind(d.Doc) == "PrometheusRule").ToList();
        var expected = new[] { "deploy/kubernetes/base/gateway", "deploy/kubernetes/overlays/production", "deploy/kubernetes/overlays/dev" }
            .Concat(Manifests.HelmRenderingArgs.Select(h => h.Name)).Order();
        Assert.Equal(expected, rules.Select(r => r.Source).Distinct().Order());
        foreach (var (source, rule) in rules)
        {
            Assert.True(groups == Canonical(Manifests.Map(rule, "spec")!.Children[new YamlScalarNode("groups")]),
                $"{source} {Manifests.Name(rule)}: its groups differ from {Source}");
        }
    }

    private static string Key(YamlMappingNode doc) => $"{Manifests.Kind(doc)}/{Manifests.Name(doc)}";

    /// <summary>
    /// What must agree: a ConfigMap's files (parsed), a Secret's data, every other object's spec; less the labels that
    /// differ by design (Helm selects by instance, Kustomize by part-of; the pod template's labels), Helm's config
    /// checksum, and a Deployment's replicas (an autoscaler owns them).
    /// </summary>
    private static YamlNode Comparable(YamlMappingNode doc)
    {
        if (Manifests.Kind(doc) == "ConfigMap")
        {
            var files = new YamlMappingNode();
            foreach (var (k, v) in Manifests.Map(doc, "data")!.Children)
            {
                files.Add(k, Manifests.Parse(((YamlScalarNode)v).Value!).Single());
            }
            return files;
        }
        if (Manifests.Kind(doc) == "Secret")
        {
            return Manifests.Map(doc, "stringData")!;
        }
        var spec = Manifests.Map(doc, "spec")!;
        if (Manifests.Kind(doc) == "Deployment")
        {
            var copy = new YamlMappingNode(spec.Children.Where(c => ((YamlScalarNode)c.Key).Value != "replicas"));
            return Drop(copy, ["app.kubernetes.io/instance", "app.kubernetes.io/part-of", "checksum/config", "labels"]);
        }
        return Drop(spec, ["app.kubernetes.io/instance", "app.kubernetes.io/part-of"]);
    }

    private static YamlNode Drop(YamlNode node, HashSet<string> keys) => node switch
    {
        YamlMappingNode m => new YamlMappingNode(m.Children.Where(c => !keys.Contains(((YamlScalarNode)c.Key).Value!))
            .Select(c => new KeyValuePair<YamlNode, YamlNode>(c.Key, Drop(c.Value, keys)))),
        YamlSequenceNode s => new YamlSequenceNode(s.Children.Select(c => Drop(c, keys))),
        _ => node,
    };

    /// <summary>One line per node: mappings with sorted keys, scalars by value (YAML's quoting style does not count).</summary>
    private static string Canonical(YamlNode node)
    {
        var sb = new StringBuilder();
        Write(node);
        return sb.ToString();

        void Write(YamlNode n)
        {
            switch (n)
            {
                case YamlMappingNode m:
                    sb.Append('{');
                    foreach (var (k, v) in m.Children.OrderBy(c => ((YamlScalarNode)c.Key).Value, StringComparer.Ordinal))
                    {
                        sb.Append(((YamlScalarNode)k).Value).Append(": ");
                        Write(v);
                        sb.Append(", ");
                    }
                    sb.Append('}');
                    break;
                case YamlSequenceNode s:
                    sb.Append('[');
                    foreach (var c in s.Children)
                    {
                        Write(c);
                        sb.Append(", ");
                    }
                    sb.Append(']');
                    break;
                case YamlScalarNode s:
                    sb.Append(s.Value);
                    break;
            }
        }
    }
}
