using System.Net;
using System.Text.RegularExpressions;
using Sluice.Cli.Tests.Support;
using Sluice.Engine.Models;
using Sluice.Engine.Serving;
using Sluice.Server;
using Sluice.Server.Metrics;
using Sluice.Server.Observability;
using YamlDotNet.RepresentationModel;

namespace Sluice.Cli.Tests.Deploy;

/// <summary>deploy/kubernetes, deploy/kserve and deploy/inference-extension, validated offline with real tools and against the code.</summary>
public sealed class ManifestTests
{
    [SkippableFact]
    public void Kustomize_EveryBaseAndOverlay_RendersTheObjectsItPromises()
    {
        var kinds = Manifests.Renderings.ToDictionary(r => r.Key, r => Manifests.Parse(r.Value).Select(Manifests.Kind).ToList());
        Assert.Equivalent(new[] { "ConfigMap", "Secret", "Service", "Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ServiceMonitor" },
            kinds["deploy/kubernetes/base/server"]);
        Assert.Contains("ScaledObject", kinds["deploy/kubernetes/overlays/production"]);
        Assert.DoesNotContain("HorizontalPodAutoscaler", kinds["deploy/kubernetes/overlays/production"]); // KEDA owns the HPA there
        Assert.Equal(2, kinds["deploy/kubernetes/overlays/production"].Count(k => k == "Deployment"));
    }

    [SkippableFact]
    public void Schemas_EveryManifestAndRendering_Validates()
    {
        var (rc, output) = Validate(Manifests.Renderings.Values.Concat(Manifests.HelmRenderings.Values).Concat(Manifests.PlainFiles.Select(RepoFiles.Read)));
        Assert.True(rc == 0, output);
        Assert.Equal(Manifests.All().Count(), Regex.Matches(output, "^ok ", RegexOptions.Multiline).Count);
    }

    [SkippableFact]
    public void Schemas_ManifestWithAWrongPortOrAnUnknownField_IsRejected()
    {
        string server = Manifests.Renderings["deploy/kubernetes/base/server"];
        string badPort = server.Replace("containerPort: 8000", "containerPort: eight-thousand", StringComparison.Ordinal);
        string pool = RepoFiles.Read("deploy/inference-extension/inference-pool.yaml").Replace("targetPorts:", "targetPortz:", StringComparison.Ordinal);
        var (rc, output) = Validate([badPort, pool]);
        Assert.Equal(1, rc);
        Assert.Matches("invalid .*Deployment/sluice-server: .*containerPort must be integer", output);
        Assert.Matches(@"invalid .*InferencePool/sluice: .*spec\.targetPortz: unknown field", output);
    }

    [SkippableFact]
    public void Schemas_AMisspelledFieldOfABuiltInKind_IsRejectedByPath()
    {
        // kubernetes-models' validators let unknown fields through; the strict pass of validate.mjs does not
        string server = Manifests.Renderings["deploy/kubernetes/base/server"];
        string helm = Manifests.HelmRenderings[Manifests.HelmRenderingArgs[0].Name];
        var (rc, output) = Validate([
            server.Replace("readinessProbe:", "readinessProb:", StringComparison.Ordinal),
            server.Replace("maxUnavailable: 1\n", "maxUnavailble: 1\n", StringComparison.Ordinal)
                .Replace("stabilizationWindowSeconds:", "stabilisationWindowSeconds:", StringComparison.Ordinal),
            helm.Replace("terminationGracePeriodSeconds:", "terminationGracePeriod:", StringComparison.Ordinal)
                .Replace("  labels:\n    app.kubernetes.io/name: sluice-server\n", "  label:\n    app.kubernetes.io/name: sluice-server\n", StringComparison.Ordinal),
        ]);
        Assert.Equal(1, rc);
        Assert.Matches(@"invalid .*Deployment/sluice-server: spec\.template\.spec\.containers\[0\]\.readinessProb: unknown field \(V1Container has no 'readinessProb'\)", output);
        Assert.Matches(@"invalid .*PodDisruptionBudget/sluice-server: spec\.maxUnavailble: unknown field", output);
        Assert.Matches(@"invalid .*HorizontalPodAutoscaler/sluice-server: spec\.behavior\.scaleDown\.stabilisationWindowSeconds: unknown field", output);
        Assert.Matches(@"invalid .*Deployment/sluice-gateway: spec\.template\.spec\.terminationGracePeriod: unknown field \(V1PodSpec", output);
        Assert.Matches(@"invalid .*: metadata\.label: unknown field \(V1ObjectMeta", output);
    }

    [SkippableFact]
    public void Schemas_KServeAndInferencePoolManifestsBrokenAgainstTheirCrds_AreRejectedByPath()
    {
        string isvc = RepoFiles.Read("deploy/kserve/inference-service.yaml")
            .Replace("minReplicas:", "minReplica:", StringComparison.Ordinal).Replace("storageUri:", "storageURI:", StringComparison.Ordinal);
        string canary = RepoFiles.Read("deploy/kserve/inference-service-canary.yaml").Replace("canaryTrafficPercent: 10", "canaryTrafficPercent: 110", StringComparison.Ordinal);
        string runtime = RepoFiles.Read("deploy/kserve/cluster-serving-runtime.yaml")
            .Replace("supportedModelFormats:", "supportedModelFormat:", StringComparison.Ordinal).Replace("readinessProbe:", "readinessProb:", StringComparison.Ordinal);
        string pool = RepoFiles.Read("deploy/inference-extension/inference-pool.yaml")
            .Replace("    port:\n      number: 9002\n", "", StringComparison.Ordinal)
            .Replace("    - number: 8000\n", "    - number: 8000\n    - number: 8000\n", StringComparison.Ordinal);
        var (rc, output) = Validate([isvc, canary, runtime, pool]);
        Assert.Equal(1, rc);
        Assert.Matches(@"invalid .*InferenceService/qwen: spec\.predictor\.minReplica: unknown field; spec\.predictor\.model\.storageURI: unknown field", output);
        Assert.Matches(@"invalid .*InferenceService/qwen: spec\.predictor\.canaryTrafficPercent: must be <= 100", output);
        Assert.Matches(@"invalid .*ClusterServingRuntime/sluice: spec\.supportedModelFormat: unknown field; spec\.containers\[0\]\.readinessProb: unknown field", output);
        Assert.Matches(@"invalid .*InferencePool/sluice: spec\.targetPorts: must NOT have duplicate items.*; spec\.endpointPickerRef: must have required property 'port'", output);
    }

    [SkippableFact]
    public void Flags_EveryArgumentInAManifest_IsAFlagTheCommandDefines()
    {
        var problems = new List<string>();
        int checkedLists = 0;
        foreach (var (source, doc) in Manifests.All())
        {
            foreach (var c in Manifests.Containers(doc))
            {
                problems.AddRange(DeployChecks.UnknownFlags(Manifests.Args(c), $"{source} {Manifests.Name(doc)}"));
                checkedLists++;
            }
            if (Manifests.Kind(doc) == "InferenceService" && Manifests.Map(doc, "spec", "predictor", "model") is { } model)
            {
                problems.AddRange(DeployChecks.UnknownFlags(["serve", .. Manifests.Args(model)], $"{source} {Manifests.Name(doc)}"));
            }
            if (Manifests.Kind(doc) == "ConfigMap" && Manifests.Map(doc, "data") is { } data && Manifests.Scalar(data, "serve.yaml") is { } serveYaml)
            {
                problems.AddRange(ConfigKeys(serveYaml).Select(k => "--" + k).Where(f => !DeployChecks.FlagsOf("serve").Contains(f))
                    .Select(f => $"{source} serve.yaml: `sluice serve` has no setting {f[2..]}"));
            }
        }
        Assert.True(checkedLists >= 7, $"only {checkedLists} containers found");
        Assert.Empty(problems);
    }

    [Fact]
    public void Flags_ArgumentThatIsNoFlag_IsReportedByName()
    {
        var problems = DeployChecks.UnknownFlags(["serve", "--port=8000", "--max-num-seq=4", "--gpu-memory-utilization", "0.9"], "m").ToList();
        Assert.Equal(["m: `sluice serve` has no flag --max-num-seq", "m: `sluice serve` has no flag --gpu-memory-utilization"], problems);
        Assert.Equal(["m: `sluice gateway` has no flag --max-num-seqs"], DeployChecks.UnknownFlags(["gateway", "--max-num-seqs=4"], "m"));
    }

    [SkippableFact]
    public void Ports_ProbesArgsAndServices_AgreeOnTheContainerPorts()
    {
        var problems = new List<string>();
        foreach (var (source, doc) in Manifests.All())
        {
            foreach (var c in Manifests.Containers(doc))
            {
                problems.AddRange(DeployChecks.PortProblems(c, $"{source} {Manifests.Name(doc)}"));
            }
            if (Manifests.Kind(doc) == "Deployment")
            {
                problems.AddRange(DeployChecks.GraceProblems(doc, $"{source} {Manifests.Name(doc)}"));
            }
        }
        Assert.Empty(problems);
    }

    [SkippableFact]
    public void Ports_WrongProbePortOrPortFlagOrShortGrace_IsReported()
    {
        var doc = Manifests.Parse(Manifests.Renderings["deploy/kubernetes/base/server"]
            .Replace("--port=8000", "--port=8001", StringComparison.Ordinal)
            .Replace("terminationGracePeriodSeconds: 60", "terminationGracePeriodSeconds: 30", StringComparison.Ordinal))
            .Single(d => Manifests.Kind(d) == "Deployment");
        var container = Manifests.Containers(doc).Single();
        var readiness = Manifests.Map(container, "readinessProbe", "httpGet")!;
        readiness.Children[new YamlScalarNode("port")] = new YamlScalarNode("metrics");
        var problems = DeployChecks.PortProblems(container, "d").Concat(DeployChecks.GraceProblems(doc, "d")).ToList();
        Assert.Contains("d: --port 8001 is not a containerPort (8000)", problems);
        Assert.Contains("d: readinessProbe port 'metrics' is not a port of the container", problems);
        Assert.Contains("d: terminationGracePeriodSeconds 30 < preStop 10 + --shutdown-timeout 30 + 5", problems);
    }

    [SkippableFact]
    public void Selectors_EveryServicePdbAndServiceMonitor_SelectsTheirDeploymentsPods()
    {
        var sources = Manifests.Renderings.Concat(Manifests.HelmRenderings).ToList();
        var problems = sources.SelectMany(r => DeployChecks.SelectorProblems(Manifests.Parse(r.Value), r.Key)).ToList();
        Assert.Empty(problems);
        // a PDB without a selector (policy/v1: it covers every pod of the namespace) is reported
        var docs = Manifests.Parse(Manifests.Renderings["deploy/kubernetes/base/server"]);
        Manifests.Map(docs.Single(d => Manifests.Kind(d) == "PodDisruptionBudget"), "spec")!.Children.Remove(new YamlScalarNode("selector"));
        Assert.Equal(["k: PodDisruptionBudget/sluice-server has no selector (it would cover every pod of the namespace)"], DeployChecks.SelectorProblems(docs, "k"));
    }

    [SkippableFact]
    public async Task Probes_EveryProbePath_IsARouteARealServerAnswers_AndTheEndpointPickerGaugesExist()
    {
        var paths = Manifests.All().SelectMany(d => Manifests.Containers(d.Doc)).SelectMany(DeployChecks.ProbePaths).ToHashSet();
        paths.UnionWith(DockerfileTests.HealthcheckPaths(RepoFiles.Read("deploy/docker/Dockerfile")));
        Assert.Contains("/health/ready", paths);
        string model = TinyModels.HeadDim32();
        await using var server = SluiceServer.Create(new ServerOptions { Port = 0, Warmup = false },
            new EngineOptions { MaxNumSeqs = 2, KvCacheMemory = 1 << 20, Threads = 1 }, () => ModelLoader.Load(model),
            SluiceObservability.Hooks(new ObservabilityOptions { Metrics = new MetricsOptions { Compat = ManifestCompat() } }) with { Logging = _ => { } });
        await server.StartAsync();
        await server.Host.Settled;
        using var http = new HttpClient { BaseAddress = server.Addresses[0] };
        foreach (var path in paths.Append("/health/nonexistent"))
        {
            using var response = await http.GetAsync(path);
            Assert.True((response.StatusCode == HttpStatusCode.NotFound) == (path == "/health/nonexistent"), $"{path}: {(int)response.StatusCode}");
        }
        // what the Inference Extension's endpoint picker is told to read (deploy/inference-extension/inference-pool.yaml)
        string metrics = await http.GetStringAsync("/metrics");
        foreach (Match m in Regex.Matches(RepoFiles.Read("deploy/inference-extension/inference-pool.yaml"), @"--[a-z-]+-metric=([a-z_:]+)"))
        {
            Assert.Contains($"# TYPE {m.Groups[1].Value} gauge", metrics);
        }
    }

    /// <summary>The --metrics-compat the server base's serve.yaml sets.</summary>
    private static MetricsCompat ManifestCompat()
    {
        var config = Manifests.Parse(Manifests.Renderings["deploy/kubernetes/base/server"]).Single(d => Manifests.Kind(d) == "ConfigMap");
        var settings = Manifests.Parse(Manifests.Scalar(Manifests.Map(config, "data"), "serve.yaml")!).Single();
        return Enum.Parse<MetricsCompat>(Manifests.Scalar(settings, "metrics-compat") ?? "none", ignoreCase: true);
    }

    internal static (int Rc, string Output) Validate(IEnumerable<string> documents)
    {
        string node = Tools.Require("node", "Debian package nodejs");
        string dir = RepoFiles.PathOf("tests/deploy-validate");
        Skip.IfNot(Directory.Exists(Path.Combine(dir, "node_modules")) || Environment.GetEnvironmentVariable("CI") == "true",
            "tests/deploy-validate has no node_modules (test.sh runs npm ci there)");
        var files = new List<string>();
        try
        {
            foreach (var text in documents)
            {
                string f = Path.Combine(Path.GetTempPath(), $"sluice-manifest-{Guid.NewGuid():N}.yaml");
                File.WriteAllText(f, text);
                files.Add(f);
            }
            return Tools.Run(node, ["validate.mjs", .. files], dir);
        }
        finally
        {
            files.ForEach(File.Delete);
        }
    }

    private static IEnumerable<string> ConfigKeys(string yaml)
    {
        var doc = Manifests.Parse(yaml).Single();
        return doc.Children.Keys.OfType<YamlScalarNode>().Select(k => (k.Value ?? "").Replace('_', '-'));
    }
}
