using System.Globalization;
using System.Text.RegularExpressions;

namespace Sluice.Cli.Options;

/// <summary>Durations as operators write them: 20m, 90s, 1h30m, 500ms, 1.5h; a bare number is seconds.</summary>
internal static partial class Duration
{
    public static TimeSpan Parse(string text)
    {
        var s = text.Trim();
        if (s.StartsWith('-'))
        {
            throw new FormatException($"'{text}' is negative; give a positive duration (examples: 20m, 90s, 1h30m)");
        }
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds))
        {
            return FromSeconds(seconds, text);
        }
        var parts = Part().Matches(s);
        if (parts.Count == 0 || string.Concat(parts.Select(m => m.Value)) != s)
        {
            throw new FormatException($"'{text}' is not a duration (examples: 20m, 90s, 1h30m, 500ms)");
        }
        double total = 0;
        foreach (Match m in parts)
        {
            double value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            total += m.Groups[2].Value switch
            {
                "ms" => value / 1000,
                "s" => value,
                "m" => value * 60,
                "h" => value * 3600,
                _ => value * 86400,
            };
        }
        return FromSeconds(total, text);
    }

    private static TimeSpan FromSeconds(double seconds, string text) =>
        double.IsFinite(seconds) && seconds >= 0 && seconds < TimeSpan.MaxValue.TotalSeconds / 2
            ? TimeSpan.FromSeconds(seconds)
            : throw new FormatException($"'{text}' is out of range");

    /// <summary>"20m", "1h30m": compact, the way Go and Prometheus write durations.</summary>
    public static string Format(TimeSpan t)
    {
        if (t.TotalSeconds < 1)
        {
            return $"{t.TotalMilliseconds:0}ms";
        }
        var s = new System.Text.StringBuilder();
        if (t.Days > 0)
        {
            s.Append(CultureInfo.InvariantCulture, $"{t.Days}d");
        }
        if (t.Hours > 0)
        {
            s.Append(CultureInfo.InvariantCulture, $"{t.Hours}h");
        }
        if (t.Minutes > 0)
        {
            s.Append(CultureInfo.InvariantCulture, $"{t.Minutes}m");
        }
        double rest = t.Seconds + (t.Milliseconds / 1000.0);
        if (rest > 0 || s.Length == 0)
        {
            s.Append(CultureInfo.InvariantCulture, $"{rest:0.###}s");
        }
        return s.ToString();
    }

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|s|m|h|d)")]
    private static partial Regex Part();
}
