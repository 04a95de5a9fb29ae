using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Sluice.Cli.Tests.Deploy;

/// <summary>
/// Checks of a deploy file against the code, each returning its problems as sentences (none: it holds): flags
/// against the CLI's own option definitions, probe and Service ports against the container's ports.
/// </summary>
internal static partial class DeployChecks
{
    /// <summary>Long names and aliases of a `sluice` subcommand's options, read from the command tree itself.</summary>
    public static HashSet<string> FlagsOf(string command)
    {
        var cmd = CliRoot.Create().Subcommands.FirstOrDefault(c => c.Name == command) ?? throw new ArgumentException($"no command '{command}'");
        return [.. cmd.Options.SelectMany(o => o.Aliases.Prepend(o.Name))];
    }

    /// <summary>Flags of a `sluice serve|gateway ...` argument list that the command does not define.</summary>
    public static IEnumerable<string> UnknownFlags(IReadOnlyList<string> args, string where)
    {
        if (args.Count == 0 || args[0] is not ("serve" or "gateway"))
        {
            yield break;
        }
        var flags = FlagsOf(args[0]);
        foreach (var a in args.Skip(1).Where(a => a.StartsWith("--", StringComparison.Ordinal)))
        {
            string name = a.Split('=', 2)[0];
            if (!flags.Contains(name))
            {
                yield return $"{where}: `sluice {args[0]}` has no flag {name}";
            }
        }
    }

    /// <summary>Every probe, the container's --port and its Service agree on the container's ports.</summary>
    public static IEnumerable<string> PortProblems(YamlMappingNode container, string where)
    {
        var named = new Dictionary<string, int>();
        foreach (var p in Manifests.Seq(container, "ports").OfType<YamlMappingNode>())
        {
            int number = int.Parse(Manifests.Scalar(p, "containerPort") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
            named[Manifests.Scalar(p, "name") ?? number.ToString(System.Globalization.CultureInfo.InvariantCulture)] = number;
        }
        var numbers = named.Values.ToHashSet();
        var args = Manifests.Args(container);
        if (args.FirstOrDefault() is "serve" or "gateway")
        {
            string? port = args.Select(a => PortFlag().Match(a)).FirstOrDefault(m => m.Success)?.Groups[1].Value;
            if (port is null || !numbers.Contains(int.Parse(port, System.Globalization.CultureInfo.InvariantCulture)))
            {
                yield return $"{where}: --port {port ?? "(default)"} is not a containerPort ({string.Join(", ", numbers)})";
            }
        }
        foreach (var probe in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
        {
            if (Manifests.Map(container, probe, "httpGet") is not { } get)
            {
                yield return $"{where}: no {probe} with httpGet";
                continue;
            }
            string port = Manifests.Scalar(get, "port") ?? "";
            if (!named.ContainsKey(port) && !(int.TryParse(port, out int n) && numbers.Contains(n)))
            {
                yield return $"{where}: {probe} port '{port}' is not a port of the container";
            }
        }
    }

    /// <summary>terminationGracePeriodSeconds leaves room for the preStop pause and --shutdown-timeout.</summary>
    public static IEnumerable<string> GraceProblems(YamlMappingNode deployment, string where)
    {
        var spec = Manifests.Map(deployment, "spec", "template", "spec");
        int grace = int.Parse(Manifests.Scalar(spec, "terminationGracePeriodSeconds") ?? "30", System.Globalization.CultureInfo.InvariantCulture);
        foreach (var c in Manifests.Containers(deployment))
        {
            int pause = int.Parse(Manifests.Scalar(Manifests.Map(c, "lifecycle", "preStop", "sleep"), "seconds") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
            string? drain = Manifests.Args(c).Select(a => ShutdownFlag().Match(a)).FirstOrDefault(m => m.Success)?.Groups[1].Value;
            if (drain is null)
            {
                yield return $"{where}: no --shutdown-timeout in the args (the grace period cannot be checked against it)";
                continue;
            }
            double needed = pause + double.Parse(drain, System.Globalization.CultureInfo.InvariantCulture) + 5;
            if (grace < needed)
            {
                yield return $"{where}: terminationGracePeriodSeconds {grace} < preStop {pause} + --shutdown-timeout {drain} + 5";
            }
        }
    }

    /// <summary>Each Service, PodDisruptionBudget and ServiceMonitor selects the pods of a Deployment of the same rendering.</summary>
    public static IEnumerable<string> SelectorProblems(IReadOnlyList<YamlMappingNode> docs, string where)
    {
        var pods = docs.Where(d => Manifests.Kind(d) == "Deployment")
            .Select(d => Labels(Manifests.Map(d, "spec", "template", "metadata", "labels"))).ToList();
        foreach (var doc in docs)
        {
            var selector = Manifests.Kind(doc) switch
            {
                "Service" => Manifests.Map(doc, "spec", "selector"),
                "PodDisruptionBudget" => Manifests.Map(doc, "spec", "selector", "matchLabels"),
                "ServiceMonitor" => Manifests.Map(doc, "spec", "selector", "matchLabels"),
                _ => null,
            };
            if (selector is null && Manifests.Kind(doc) is not ("Service" or "PodDisruptionBudget" or "ServiceMonitor"))
            {
                continue;
            }
            var wanted = Labels(selector);
            string what = $"{where}: {Manifests.Kind(doc)}/{Manifests.Name(doc)}";
            if (wanted.Count == 0)
            {
                yield return $"{what} has no selector (it would cover every pod of the namespace)";
            }
            else if (Manifests.Kind(doc) == "ServiceMonitor"
                ? !docs.Any(s => Manifests.Kind(s) == "Service" && wanted.All(l => Labels(Manifests.Map(s, "metadata", "labels")).Contains(l)))
                : !pods.Any(p => wanted.All(p.Contains)))
            {
                yield return $"{what} selects {string.Join(",", wanted)}: no {(Manifests.Kind(doc) == "ServiceMonitor" ? "Service" : "Deployment's pods")} carry those labels";
            }
        }
    }

    private static HashSet<string> Labels(YamlMappingNode? map) =>
        map is null ? [] : [.. map.Children.Select(c => $"{((YamlScalarNode)c.Key).Value}={(c.Value as YamlScalarNode)?.Value}")];

    /// <summary>HTTP paths of every probe in the manifests (startup, liveness, readiness).</summary>
    public static IEnumerable<string> ProbePaths(YamlMappingNode container) =>
        new[] { "startupProbe", "livenessProbe", "readinessProbe" }.Select(p => Manifests.Scalar(Manifests.Map(container, p, "httpGet"), "path")).OfType<string>();

    [GeneratedRegex(@"^--port=(\d+)$")]
    private static partial Regex PortFlag();

    [GeneratedRegex(@"^--shutdown-timeout=([0-9.]+)$")]
    private static partial Regex ShutdownFlag();
}
