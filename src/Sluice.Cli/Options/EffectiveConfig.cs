using System.Collections;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Sluice.Server;

namespace Sluice.Cli.Options;

/// <summary>
/// What a command will run with: every option's value and where it came from (flag, environment, config or default),
/// with secrets redacted, for `serve --check-config` and GET /version. Precedence is flag, then environment
/// (<see cref="EnvironmentFlags"/>), then the --config file (<see cref="ConfigFile"/>).
/// </summary>
internal static class EffectiveConfig
{
    /// <summary>Options whose values are secrets: reported as how many were given, never as text.</summary>
    private static readonly HashSet<string> Secrets = new(StringComparer.Ordinal) { "--api-key", "--master-key" };

    /// <summary>Merges the environment and then the config file into <paramref name="parse"/>, recording each option's source.</summary>
    public static (ParseResult Parse, IReadOnlyList<ConfigSetting> Settings) Resolve(ParseResult parse, Command command, Option<string?> config, IDictionary environment)
    {
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        Mark(parse, command, sources, "flag");
        parse = EnvironmentFlags.Merge(parse, command, environment);
        Mark(parse, command, sources, "environment");
        if (parse.GetValue(config) is { } path)
        {
            parse = ConfigFile.Merge(parse, command, path);
            if (parse.Errors.Count > 0)
            {
                throw new FormatException($"{path}: {parse.Errors[0].Message}");
            }
            Mark(parse, command, sources, "config");
        }
        var settings = command.Options.Where(o => o.Name is not ("--help" or "--version"))
            .Select(o => new ConfigSetting(o.Name.TrimStart('-'), Value(parse, o), sources.GetValueOrDefault(o.Name, "default")))
            .ToList();
        return (parse, settings);
    }

    /// <summary>The settings as aligned text lines (name, value, source).</summary>
    public static string Text(IReadOnlyList<ConfigSetting> settings)
    {
        int width = settings.Max(s => s.Name.Length) + 2;
        var text = new System.Text.StringBuilder();
        foreach (var s in settings)
        {
            text.Append(CultureInfo.InvariantCulture, $"{s.Name.PadRight(width)}{s.Value ?? "-"}  ({s.Source})\n");
        }
        return text.ToString();
    }

    private static void Mark(ParseResult parse, Command command, Dictionary<string, string> sources, string source)
    {
        foreach (var option in command.Options)
        {
            if (parse.GetResult(option) is { Implicit: false })
            {
                sources.TryAdd(option.Name, source);
            }
        }
    }

    private static string? Value(ParseResult parse, Option option)
    {
        if (parse.GetResult(option) is not OptionResult result)
        {
            return null;
        }
        object? value = result.GetValueOrDefault<object?>();
        if (Secrets.Contains(option.Name))
        {
            int count = value is IEnumerable list and not string ? list.Cast<object?>().Count() : value is null ? 0 : 1;
            return count == 0 ? null : $"<redacted: {count} key{(count == 1 ? "" : "s")}>";
        }
        return value switch
        {
            null => null,
            string s => s,
            bool b => b ? "true" : "false",
            IEnumerable list => string.Join(",", list.Cast<object?>().Select(x => Convert.ToString(x, CultureInfo.InvariantCulture))),
            _ => Convert.ToString(value, CultureInfo.InvariantCulture),
        };
    }
}
