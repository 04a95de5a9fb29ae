using System.Globalization;

namespace Sluice.Hosting.Metrics.Parsing;

/// <summary>
/// One scrape of /metrics (Prometheus text format 0.0.4, as <see cref="Exposition.MetricRegistry"/> writes it), parsed
/// into series: name, labels (escapes undone), value (+Inf, -Inf and NaN included). Comment and HELP/TYPE lines, and
/// lines that are not a sample, are skipped; a timestamp after the value is ignored.
/// </summary>
public sealed class MetricSnapshot
{
    public sealed record Series(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    private readonly Dictionary<string, List<Series>> _byName = new(StringComparer.Ordinal);

    public static MetricSnapshot Parse(string text)
    {
        var snapshot = new MetricSnapshot();
        foreach (var raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            int brace = line.IndexOf('{', StringComparison.Ordinal);
            int space = line.LastIndexOf(' ');
            if (space <= 0)
            {
                continue;
            }
            string name;
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (brace > 0 && brace < space)
            {
                name = line[..brace];
                int close = line.LastIndexOf('}');
                ParseLabels(line[(brace + 1)..close], labels);
                space = line.IndexOf(' ', close);
            }
            else
            {
                space = line.IndexOf(' ', StringComparison.Ordinal);
                name = line[..space];
            }
            string valueText = line[(space + 1)..].Trim().Split(' ')[0];
            if (!TryParseValue(valueText, out double value))
            {
                continue;
            }
            if (!snapshot._byName.TryGetValue(name, out var list))
            {
                snapshot._byName[name] = list = [];
            }
            list.Add(new Series(name, labels, value));
        }
        return snapshot;
    }

    public bool Has(string name) => _byName.ContainsKey(name);

    public IReadOnlyList<Series> All(string name) => _byName.TryGetValue(name, out var list) ? list : [];

    /// <summary>The sum over every series of a name whose labels include the given ones; 0 when absent.</summary>
    public double Sum(string name, params (string Label, string Value)[] match) =>
        All(name).Where(s => match.All(m => s.Labels.TryGetValue(m.Label, out var v) && v == m.Value)).Sum(s => s.Value);

    /// <summary>A sample value as Prometheus writes it: a float, +Inf, -Inf or NaN.</summary>
    private static bool TryParseValue(string text, out double value)
    {
        switch (text)
        {
            case "+Inf":
                value = double.PositiveInfinity;
                return true;
            case "-Inf":
                value = double.NegativeInfinity;
                return true;
            default:
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }

    private static void ParseLabels(string text, Dictionary<string, string> labels)
    {
        int i = 0;
        while (i < text.Length)
        {
            int eq = text.IndexOf('=', i);
            if (eq < 0)
            {
                return;
            }
            string key = text[i..eq].Trim(' ', ',');
            int j = eq + 2; // past ="
            var value = new System.Text.StringBuilder();
            for (; j < text.Length && text[j] != '"'; j++)
            {
                if (text[j] == '\\' && j + 1 < text.Length)
                {
                    j++;
                    value.Append(text[j] == 'n' ? '\n' : text[j]);
                }
                else
                {
                    value.Append(text[j]);
                }
            }
            labels[key] = value.ToString();
            i = j + 1;
        }
    }
}
