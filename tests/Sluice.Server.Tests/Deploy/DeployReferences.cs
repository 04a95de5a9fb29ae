using System.Text.RegularExpressions;
using Sluice.Hosting.Metrics.Exposition;
using Sluice.Server.Tests.Metrics;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Deploy;

/// <summary>What the deploy files point at: metric names in PromQL, and runbook links.</summary>
internal static partial class DeployReferences
{
    [GeneratedRegex(@"\b(?:sluice_[a-z0-9_]+|process_[a-z0-9_]+|vllm:[a-z0-9_:]+)")]
    private static partial Regex MetricName();

    /// <summary>Metric names a PromQL expression uses that docs/metrics.md does not publish (histogram series resolved to their family).</summary>
    public static IEnumerable<string> Undocumented(string promql, MetricsDoc doc)
    {
        foreach (Match m in MetricName().Matches(promql))
        {
            string name = m.Value;
            string family = Regex.Replace(name, "_(bucket|sum|count)$", "");
            bool ok = doc.Rows.Any(r => r.Name == name && r.Type != MetricType.Histogram)
                || (family != name && doc.Rows.Any(r => r.Name == family && r.Type == MetricType.Histogram));
            if (!ok)
            {
                yield return name;
            }
        }
    }

    /// <summary>True when a repository-relative link (path#anchor) names an existing file and, if given, a heading in it.</summary>
    public static bool LinkExists(string link)
    {
        var parts = link.Split('#', 2);
        string path = RepoFiles.PathOf(parts[0]);
        if (!File.Exists(path))
        {
            return false;
        }
        return parts.Length == 1 || File.ReadLines(path).Where(l => l.StartsWith('#')).Select(Slug).Contains(parts[1]);
    }

    /// <summary>GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens.</summary>
    public static string Slug(string heading) =>
        new string(heading.TrimStart('#').Trim().ToLowerInvariant().Where(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_').ToArray()).Replace(' ', '-');
}
