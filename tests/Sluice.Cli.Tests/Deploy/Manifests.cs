using Sluice.Cli.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace Sluice.Cli.Tests.Deploy;

/// <summary>The Kubernetes manifests under deploy/: Kustomize renderings and plain files, as YAML documents.</summary>
internal static class Manifests
{
    public static readonly string[] Kustomizations =
        ["deploy/kubernetes/base/server", "deploy/kubernetes/base/gateway", "deploy/kubernetes/overlays/production", "deploy/kubernetes/overlays/dev"];

    public static readonly string[] PlainFiles =
    [
        "deploy/kserve/cluster-serving-runtime.yaml", "deploy/kserve/inference-service.yaml", "deploy/kserve/inference-service-canary.yaml",
        "deploy/inference-extension/inference-pool.yaml", "deploy/inference-extension/httproute.yaml",
    ];

    /// <summary>The Helm chart's renderings checked with everything else: default values, and a production values file.</summary>
    public static readonly (string Name, string[] Args)[] HelmRenderingArgs =
    [
        ("helm: deploy/helm/sluice (default values)", []),
        ("helm: deploy/helm/sluice (ci/production-values.yaml)", ["--namespace", "sluice", "-f", Helm.ProductionValues]),
    ];

    private static readonly Lazy<IReadOnlyDictionary<string, string>> Rendered = new(RenderAll);
    private static readonly Lazy<IReadOnlyDictionary<string, string>> HelmRendered =
        new(() => HelmRenderingArgs.ToDictionary(h => h.Name, h => Helm.Template(h.Args)));

    /// <summary>`kubectl kustomize` of every kustomization, by folder.</summary>
    public static IReadOnlyDictionary<string, string> Renderings => Rendered.Value;

    /// <summary>`helm template` of the chart, by <see cref="HelmRenderingArgs"/> name.</summary>
    public static IReadOnlyDictionary<string, string> HelmRenderings => HelmRendered.Value;

    private static Dictionary<string, string> RenderAll()
    {
        string kubectl = Tools.Require("kubectl", "Debian package kubernetes-client");
        var result = new Dictionary<string, string>();
        foreach (var k in Kustomizations)
        {
            var (rc, output) = Tools.Run(kubectl, ["kustomize", RepoFiles.PathOf(k)]);
            Assert.True(rc == 0, $"kubectl kustomize {k}: {output}");
            result[k] = output;
        }
        return result;
    }

    /// <summary>Every document of every rendering (Kustomize and Helm) and plain file, with where it came from.</summary>
    public static IEnumerable<(string Source, YamlMappingNode Doc)> All()
    {
        foreach (var (k, text) in Renderings.Concat(HelmRenderings))
        {
            foreach (var doc in Parse(text))
            {
                yield return (k, doc);
            }
        }
        foreach (var f in PlainFiles)
        {
            foreach (var doc in Parse(RepoFiles.Read(f)))
            {
                yield return (f, doc);
            }
        }
    }

    public static List<YamlMappingNode> Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return [.. stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>()];
    }

    public static string Kind(YamlMappingNode doc) => Scalar(doc, "kind") ?? "";

    public static string Name(YamlMappingNode doc) => Map(doc, "metadata") is { } m ? Scalar(m, "name") ?? "" : "";

    public static YamlMappingNode? Map(YamlMappingNode node, params string[] path)
    {
        YamlNode? n = node;
        foreach (var key in path)
        {
            n = n is YamlMappingNode m && m.Children.TryGetValue(key, out var v) ? v : null;
        }
        return n as YamlMappingNode;
    }

    public static IEnumerable<YamlNode> Seq(YamlMappingNode? node, string key) =>
        node is not null && node.Children.TryGetValue(key, out var v) && v is YamlSequenceNode s ? s.Children : [];

    public static string? Scalar(YamlMappingNode? node, string key) =>
        node is not null && node.Children.TryGetValue(key, out var v) && v is YamlScalarNode s ? s.Value : null;

    /// <summary>The pod template's containers of a Deployment, or a ServingRuntime's containers.</summary>
    public static IEnumerable<YamlMappingNode> Containers(YamlMappingNode doc) => Kind(doc) switch
    {
        "Deployment" => Seq(Map(doc, "spec", "template", "spec"), "containers").OfType<YamlMappingNode>(),
        "ClusterServingRuntime" or "ServingRuntime" => Seq(Map(doc, "spec"), "containers").OfType<YamlMappingNode>(),
        _ => [],
    };

    public static List<string> Args(YamlMappingNode container) =>
        [.. Seq(container, "args").OfType<YamlScalarNode>().Select(s => s.Value ?? "")];
}
