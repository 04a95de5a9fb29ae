using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Sluice.Gateway.Configuration;

/// <summary>
/// One YAML mapping read field by field: every value is looked up by name with its path for errors, and
/// <see cref="RejectUnknown"/> refuses the fields nobody asked for (a typo or an unsupported setting is an error, never ignored).
/// </summary>
internal sealed class YamlFields
{
    private readonly YamlMappingNode _node;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public YamlFields(YamlNode? node, string path)
    {
        Path = path;
        _node = node as YamlMappingNode ?? throw Error(path, "must be a mapping of fields");
    }

    public string Path { get; }

    public string Child(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    public YamlNode? Get(string key)
    {
        _read.Add(key);
        return _node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;
    }

    public string? String(string key)
    {
        var node = Get(key);
        return node switch
        {
            null => null,
            YamlScalarNode s when !string.IsNullOrWhiteSpace(s.Value) => s.Value!.Trim(),
            YamlScalarNode => throw Error(Child(key), "must not be empty"),
            _ => throw Error(Child(key), "must be a single value"),
        };
    }

    public string RequiredString(string key) => String(key) ?? throw Error(Child(key), "is required");

    public int? Int(string key, int min, int max)
    {
        string? text = String(key);
        if (text is null)
        {
            return null;
        }
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
        {
            throw Error(Child(key), $"must be a whole number from {min} to {max}, not '{text}'");
        }
        return value;
    }

    public double? Double(string key, double min, double max)
    {
        string? text = String(key);
        if (text is null)
        {
            return null;
        }
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) || value < min || value > max)
        {
            throw Error(Child(key), $"must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}, not '{text}'");
        }
        return value;
    }

    /// <summary>A duration: <c>250ms</c>, <c>5s</c>, <c>2m</c>, <c>1h</c>, or a number of seconds.</summary>
    public TimeSpan? Duration(string key, TimeSpan min, TimeSpan max)
    {
        string? text = String(key);
        if (text is null)
        {
            return null;
        }
        (string number, double scale) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : text.EndsWith('m') ? (text[..^1], 60.0)
            : text.EndsWith('h') ? (text[..^1], 3600.0)
            : (text, 1.0);
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value)
            || TimeSpan.FromSeconds(value * scale) is var span && (span < min || span > max))
        {
            throw Error(Child(key), $"must be a duration from {min.TotalSeconds} s to {max.TotalSeconds} s (e.g. 500ms, 5s, 2m, 1h), not '{text}'");
        }
        return span;
    }

    /// <summary>A size in bytes: <c>4096</c>, <c>512KiB</c>, <c>256MiB</c>, <c>1GiB</c> (KB, MB, GB: powers of 1000).</summary>
    public long? Bytes(string key, long min, long max)
    {
        string? text = String(key);
        if (text is null)
        {
            return null;
        }
        (string, long)[] units = [("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1)];
        (string number, long scale) = (text, 1);
        foreach (var (suffix, factor) in units)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal))
            {
                (number, scale) = (text[..^suffix.Length].TrimEnd(), factor);
                break;
            }
        }
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) || value < 0
            || value * scale < min || value * scale > max)
        {
            throw Error(Child(key), $"must be a size from {min} to {max} bytes (e.g. 4096, 512KiB, 256MiB, 1GiB), not '{text}'");
        }
        return (long)(value * scale);
    }

    public IReadOnlyList<YamlNode> List(string key)
    {
        return Get(key) switch
        {
            null => [],
            YamlSequenceNode seq => [.. seq.Children],
            _ => throw Error(Child(key), "must be a list"),
        };
    }

    public void RejectUnknown(string? hint = null)
    {
        foreach (var key in _node.Children.Keys)
        {
            string name = (key as YamlScalarNode)?.Value ?? key.ToString();
            if (!_read.Contains(name))
            {
                throw Error(Child(name), "unknown field" + (hint is null ? "" : $" ({hint})"));
            }
        }
    }

    public IEnumerable<(string Key, YamlNode Value)> Entries() =>
        _node.Children.Select(kv => ((kv.Key as YamlScalarNode)?.Value ?? kv.Key.ToString(), kv.Value));

    public static GatewayConfigException Error(string path, string message) => new($"{path}: {message}");
}
