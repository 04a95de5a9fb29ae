using System.Globalization;
using System.Text;

namespace Sluice.Hosting.Metrics.Exposition;

/// <summary>Prometheus text exposition format 0.0.4: HELP and TYPE lines, then one line per sample.</summary>
internal sealed class ExpositionWriter(StringBuilder output)
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public void Header(MetricDescriptor d)
    {
        output.Append("# HELP ").Append(d.Name).Append(' ').Append(EscapeHelp(d.Help)).Append('\n');
        output.Append("# TYPE ").Append(d.Name).Append(' ').Append(d.Type.ToString().ToLowerInvariant()).Append('\n');
    }

    public void Sample(string name, IReadOnlyList<string> labels, string[] values, double value)
    {
        output.Append(name);
        if (labels.Count > 0)
        {
            output.Append('{');
            for (int i = 0; i < labels.Count; i++)
            {
                if (i > 0)
                {
                    output.Append(',');
                }
                output.Append(labels[i]).Append("=\"");
                EscapeLabel(values[i]);
                output.Append('"');
            }
            output.Append('}');
        }
        output.Append(' ').Append(Number(value)).Append('\n');
    }

    /// <summary>A sample value or bucket bound as Prometheus writes it: shortest round-trip form, +Inf, -Inf, NaN.</summary>
    public static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private void EscapeLabel(string value)
    {
        foreach (char c in value)
        {
            _ = c switch
            {
                '\\' => output.Append("\\\\"),
                '"' => output.Append("\\\""),
                '\n' => output.Append("\\n"),
                _ => output.Append(c),
            };
        }
    }

    private static string EscapeHelp(string help) => help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
