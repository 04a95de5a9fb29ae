using System.Globalization;

namespace Sluice.Cli.Diagnosis;

/// <summary>One scrape of /metrics (Prometheus text format), parsed into series: name, labels, value.</summary>
internal sealed class MetricSnapshot
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
                name = line[..line.IndexOf(' ', StringComparison.Ordinal)];
            }
            string valueText = line[(space + 1)..].Trim().Split(' ')[0];
            if (!double.TryParse(valueText.Replace("+Inf", "Infinity", StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
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
