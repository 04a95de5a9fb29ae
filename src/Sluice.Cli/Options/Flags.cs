using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Sluice.Cli.Options;

/// <summary>
/// Numeric flags that refuse a bad value while the command line is parsed, before anything is loaded, with
/// one message naming the flag and the range ("--threads must be a whole number from 1 to 512, got '0'")
/// instead of System.CommandLine's "cannot parse ... as expected type 'System.Int32'".
/// </summary>
internal static class Flags
{
    public static Option<int> Int(string name, int defaultValue, int min, int max, string? description = null, params string[] aliases) =>
        new(name, aliases)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = r => ParseInteger(r, name, min, max) is { } v ? (int)v : defaultValue,
        };

    public static Option<int?> OptionalInt(string name, int min, int max, string? description = null, params string[] aliases) =>
        new(name, aliases)
        {
            Description = description,
            CustomParser = r => ParseInteger(r, name, min, max) is { } v ? (int)v : null,
        };

    /// <summary>A seed: any whole number from 0 to <see cref="ulong.MaxValue"/>.</summary>
    public static Option<ulong?> OptionalSeed(string name, string? description = null) =>
        new(name)
        {
            Description = description,
            CustomParser = r =>
            {
                string text = Token(r);
                if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v))
                {
                    return v;
                }
                r.AddError($"{name} must be a whole number from 0 to {ulong.MaxValue}, got '{text}'");
                return null;
            },
        };

    /// <summary>A float flag: any number (NaN and infinities included; the caller checks the range and names the flag).</summary>
    public static Option<float> Float(string name, float defaultValue, string? description = null) =>
        new(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = r =>
            {
                string text = Token(r);
                if (float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float v))
                {
                    return v;
                }
                r.AddError($"{name} must be a number, got '{text}'");
                return defaultValue;
            },
        };

    /// <summary>A double flag whose value must lie in [min, max] (infinity allowed where max is).</summary>
    public static Option<double> Double(string name, double defaultValue, double min, double max, string range, string? description = null) =>
        new(name)
        {
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = r =>
            {
                string text = Token(r);
                bool parsed = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v);
                if (text.Equals("inf", StringComparison.OrdinalIgnoreCase) || text.Equals("+inf", StringComparison.OrdinalIgnoreCase))
                {
                    (parsed, v) = (true, double.PositiveInfinity);
                }
                if (parsed && v >= min && v <= max)
                {
                    return v;
                }
                r.AddError($"{name} must be {range}, got '{text}'");
                return defaultValue;
            },
        };

    private static long? ParseInteger(ArgumentResult r, string name, int min, int max)
    {
        string text = Token(r);
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) && v >= min && v <= max)
        {
            return v;
        }
        r.AddError($"{name} must be a whole number from {min} to {max}, got '{text}'");
        return null;
    }

    private static string Token(ArgumentResult r) => r.Tokens.Count > 0 ? r.Tokens[^1].Value.Trim() : "";
}
