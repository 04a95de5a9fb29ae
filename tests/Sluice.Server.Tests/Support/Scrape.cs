using System.Globalization;

namespace Sluice.Server.Tests.Support;

/// <summary>A parsed /metrics answer: sample values by name and labels, and each family's TYPE.</summary>
public sealed class Scrape
{
    private readonly Dictionary<string, double> _samples = new(StringComparer.Ordinal);

    public Scrape(string text)
    {
        Text = text;
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line[7..].Split(' ');
                Types[parts[0]] = parts[1];
                continue;
            }
            if (line.StartsWith('#'))
            {
                continue;
            }
            int space = line.LastIndexOf(' ');
            _samples[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }
    }

    public string Text { get; }

    /// <summary>Family name → type, from the TYPE lines.</summary>
    public Dictionary<string, string> Types { get; } = new(StringComparer.Ordinal);

    /// <summary>The value of one sample, e.g. <c>Value("sluice_requests_total", ("route", "/v1/completions"), ("code", "200"), ("outcome", "completed"))</c>; labels in exposition order.</summary>
    public double Value(string name, params (string Label, string Value)[] labels)
    {
        string key = labels.Length == 0 ? name : $"{name}{{{string.Join(',', labels.Select(l => $"{l.Label}=\"{l.Value}\""))}}}";
        return _samples.TryGetValue(key, out double v) ? v : throw new KeyNotFoundException($"no sample {key} in the scrape");
    }

    /// <summary>The sum of every sample of a name whatever its labels (e.g. all series of a counter).</summary>
    public double Sum(string name) =>
        _samples.Where(s => s.Key == name || s.Key.StartsWith(name + "{", StringComparison.Ordinal)).Sum(s => s.Value);

    public bool Has(string name) => _samples.Keys.Any(k => k == name || k.StartsWith(name + "{", StringComparison.Ordinal));
}
