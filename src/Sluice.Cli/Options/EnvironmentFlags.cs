using System.Collections;
using System.CommandLine;

namespace Sluice.Cli.Options;

/// <summary>
/// Flags from the environment: every option of a command as <c>SLUICE_&lt;FLAG&gt;</c>, the long name upper-cased with
/// dashes as underscores (<c>--max-num-seqs</c> is <c>SLUICE_MAX_NUM_SEQS</c>). The command line wins over the
/// environment, which wins over a --config file (merged after this). An on/off flag takes true/false, 1/0, yes/no or on/off;
/// a repeatable flag takes one value. A value the flag refuses stops the command naming the variable.
/// </summary>
internal static class EnvironmentFlags
{
    public const string Prefix = "SLUICE_";

    public static string Variable(Option option) => Prefix + option.Name.TrimStart('-').Replace('-', '_').ToUpperInvariant();

    /// <summary>The command line with a value added for every option it leaves out whose variable is set.</summary>
    public static ParseResult Merge(ParseResult parse, Command command, IDictionary environment)
    {
        var extra = new List<string>();
        foreach (var option in command.Options)
        {
            if (option.Name is "--help" or "--version" || environment[Variable(option)] is not string value)
            {
                continue;
            }
            if (parse.GetResult(option) is { Implicit: false })
            {
                continue; // given on the command line
            }
            string[] tokens = Tokens(option, value);
            // checked alone, so the error names the variable rather than a flag nobody typed
            var alone = parse.RootCommandResult.Command.Parse([command.Name, .. tokens]);
            if (alone.Errors.Count > 0)
            {
                throw new FormatException($"{Variable(option)}: {alone.Errors[0].Message}");
            }
            extra.AddRange(tokens);
        }
        if (extra.Count == 0)
        {
            return parse;
        }
        return parse.RootCommandResult.Command.Parse([.. parse.Tokens.Select(t => t.Value), .. extra]);
    }

    private static string[] Tokens(Option option, string value)
    {
        if (option.ValueType != typeof(bool) && option.ValueType != typeof(bool?))
        {
            return [option.Name, value];
        }
        bool on = value.Trim().ToLowerInvariant() switch
        {
            "1" or "true" or "yes" or "on" => true,
            "0" or "false" or "no" or "off" => false,
            _ => throw new FormatException($"{Variable(option)}: {option.Name} is on or off, got '{value}' (use true or false, 1 or 0)"),
        };
        return [option.Name, on ? "true" : "false"]; // "false" too, so a --config file cannot turn it back on
    }
}
