using System.CommandLine;
using System.Text.RegularExpressions;

namespace Sluice.Cli.Tests.Deploy;

/// <summary>
/// Every name a runbook uses, checked against what the code defines: metric families (a live server's and gateway's
/// /metrics and the metric contracts), HTTP endpoints (their route tables), `sluice` commands and their flags (the
/// CLI's own command tree), and alerts (deploy/prometheus/sluice-alerts.yml and sluice-gateway-alerts.yml). Each problem is one sentence.
/// </summary>
internal static partial class RunbookChecks
{
    public static IEnumerable<string> Problems(string file, string markdown, LiveSurface surface, IReadOnlySet<string> alerts)
    {
        foreach (Match m in MetricName().Matches(markdown))
        {
            string name = m.Value;
            string family = HistogramSuffix().Replace(name, "");
            if (!surface.Metrics.Contains(name) && !surface.Metrics.Contains(family))
            {
                yield return $"{file}: metric {name} is not exported";
            }
        }
        var routes = surface.Routes.Select(RouteRegex).ToList();
        foreach (Match m in EndpointPath().Matches(markdown))
        {
            string path = m.Groups[1].Value.TrimEnd('.', ',', ':', '/');
            if (path.Length > 0 && !routes.Any(r => r.IsMatch(path)))
            {
                yield return $"{file}: endpoint {path} is no route of the server or gateway";
            }
        }
        foreach (Match m in Alert().Matches(markdown))
        {
            if (!alerts.Contains(m.Value))
            {
                yield return $"{file}: alert {m.Value} is in no rule file of deploy/prometheus";
            }
        }
        var root = CliRoot.Create();
        var allFlags = AllFlags(root).ToHashSet();
        foreach (var code in CodeLines(markdown))
        {
            foreach (Match m in SluiceCommand().Matches(code))
            {
                foreach (var problem in CommandProblems(root, m.Groups[1].Value))
                {
                    yield return $"{file}: {problem}";
                }
            }
            if (code.StartsWith("--", StringComparison.Ordinal) && !allFlags.Contains(code.Split([' ', '='], 2)[0]))
            {
                yield return $"{file}: {code.Split([' ', '='], 2)[0]} is no flag of any sluice command";
            }
        }
    }

    /// <summary>One `sluice ...` invocation (up to a pipe or the end of the command): its command path and flags.</summary>
    private static IEnumerable<string> CommandProblems(Command root, string rest)
    {
        var tokens = rest.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        Command cmd = root;
        int i = 0;
        for (; i < tokens.Length && !tokens[i].StartsWith('-'); i++)
        {
            var sub = cmd.Subcommands.FirstOrDefault(c => c.Name == tokens[i]);
            if (sub is null)
            {
                if (cmd == root || cmd.Subcommands.Count > 0)
                {
                    yield return $"command `sluice {string.Join(' ', tokens[..(i + 1)])}` does not exist";
                    yield break;
                }
                break; // an argument (a file name)
            }
            cmd = sub;
        }
        var flags = cmd.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).ToHashSet();
        foreach (var t in tokens.Skip(i).Where(t => t.StartsWith("--", StringComparison.Ordinal)))
        {
            string flag = t.Split('=', 2)[0];
            if (!flags.Contains(flag) && flag != "--help")
            {
                yield return $"`sluice {cmd.Name}` has no flag {flag}";
            }
        }
    }

    private static IEnumerable<string> AllFlags(Command c) =>
        c.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).Concat(c.Subcommands.SelectMany(AllFlags));

    /// <summary>Lines of fenced code blocks and inline code spans.</summary>
    private static IEnumerable<string> CodeLines(string markdown)
    {
        bool fenced = false;
        foreach (var line in markdown.Split('\n'))
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                fenced = !fenced;
                continue;
            }
            if (fenced)
            {
                yield return line.Trim();
                continue;
            }
            foreach (Match m in InlineCode().Matches(line))
            {
                yield return m.Groups[1].Value.Trim();
            }
        }
    }

    private static Regex RouteRegex(string pattern)
    {
        string regex = Regex.Replace(Regex.Escape(pattern.TrimEnd('/')), @"\\\{\\\*\\\*[^}]+}", ".+");
        regex = Regex.Replace(regex, @"\\\{[^}]+}", "[^/]+");
        return new Regex("^" + regex + "$");
    }

    [GeneratedRegex(@"(?<![\w/.-])(?:sluice_[a-z0-9_]*[a-z0-9]|vllm:[a-z0-9_:]*[a-z0-9]|process_[a-z0-9_]*[a-z0-9])")]
    private static partial Regex MetricName();

    [GeneratedRegex("_(bucket|sum|count)$")]
    private static partial Regex HistogramSuffix();

    [GeneratedRegex(@"(?<=^|[\s`'""(]|https?://[^\s/`]+)(/(?:v1|health|metrics|admin|debug|version)(?:/[^\s`'""?#)\]|]*)?)", RegexOptions.Multiline)]
    private static partial Regex EndpointPath();

    [GeneratedRegex(@"\bSluice[A-Z][A-Za-z0-9]+\b")]
    private static partial Regex Alert();

    // a command word: at the start of a line or after a pipe, ;, &&, ( or $( (not "kubectl -n sluice get")
    [GeneratedRegex(@"(?:^|[;&|(]\s*)sluice((?:\s+[^\s|;&)`]+)*)")]
    private static partial Regex SluiceCommand();

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex InlineCode();
}
