using System.Globalization;
using Sluice.Hosting.Metrics.Exposition;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Metrics;

/// <summary>docs/metrics.md read back: each metric row (name, type, labels, bucket list) by section, and the bucket lists.</summary>
public sealed class MetricsDoc
{
    public sealed record Row(string Section, string Name, MetricType Type, IReadOnlyList<string> Labels, string? BucketList);

    private MetricsDoc(List<Row> rows, Dictionary<string, IReadOnlyList<double>> lists)
    {
        Rows = rows;
        BucketLists = lists;
    }

    public IReadOnlyList<Row> Rows { get; }
    public IReadOnlyDictionary<string, IReadOnlyList<double>> BucketLists { get; }

    public static MetricsDoc Load() => Parse(RepoFiles.Read("docs/metrics.md"));

    public static MetricsDoc Parse(string markdown)
    {
        var rows = new List<Row>();
        var lists = new Dictionary<string, IReadOnlyList<double>>();
        string section = "";
        foreach (var raw in markdown.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                section = line[3..];
                continue;
            }
            if (!line.StartsWith("| `", StringComparison.Ordinal))
            {
                continue;
            }
            var cells = line.Trim('|').Split('|').Select(c => c.Trim()).ToArray();
            if (section == "Bucket lists")
            {
                lists[Unquote(cells[0])] = [.. cells[1].Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture))];
            }
            else if (cells.Length == 5)
            {
                var labels = cells[2].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Unquote).ToArray();
                rows.Add(new Row(section, Unquote(cells[0]), Enum.Parse<MetricType>(cells[1], ignoreCase: true), labels,
                    cells[3].Length == 0 ? null : Unquote(cells[3])));
            }
        }
        return new MetricsDoc(rows, lists);
    }

    /// <summary>Every metric name the page lists (for dashboards and alert rules to be checked against).</summary>
    public IReadOnlySet<string> Names => Rows.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);

    private static string Unquote(string cell) => cell.Trim('`');
}
