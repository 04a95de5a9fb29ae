using System.CommandLine;
using Sluice.Cli.Alerts;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice alerts render TEMPLATE [--job NAME] [--set VAR=VALUE]... [--output FILE]`: the Prometheus rules of a template
/// (deploy/prometheus/*.template.yml) with its job label and thresholds set; `sluice alerts variables TEMPLATE` lists
/// what can be set. Exit 2 on an unknown variable or a bad value, naming it.
/// </summary>
internal static class AlertsCommand
{
    public static Command Create()
    {
        var cmd = new Command("alerts", "Prometheus alert rules from a template: set the job label and thresholds (docs/alerts.md).");
        cmd.Subcommands.Add(Render());
        cmd.Subcommands.Add(Variables());
        return cmd;
    }

    private static Command Render()
    {
        var template = new Argument<string>("template") { Description = "Rules template, e.g. deploy/prometheus/sluice-alerts.template.yml" };
        var job = new Option<string?>("--job") { Description = "The job label of the scrape config (same as --set job=NAME)" };
        var set = new Option<string[]>("--set") { Description = "VAR=VALUE: a threshold or label (repeatable; `sluice alerts variables` lists them)" };
        var output = new Option<string?>("--output", "-o") { Description = "Write the rules to this file (default: standard output)" };
        var cmd = new Command("render", "Print the rules of a template with the given job label and thresholds (the defaults for the rest).") { template, job, set, output };
        cmd.SetAction(parse => CliErrors.Run(parse, () =>
        {
            var rules = Load(parse.GetValue(template)!);
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in parse.GetValue(set) ?? [])
            {
                int eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    throw new CommandException($"--set '{pair}': write VAR=VALUE");
                }
                values[pair[..eq]] = pair[(eq + 1)..];
            }
            if (parse.GetValue(job) is { } name)
            {
                values["job"] = name;
            }
            string text = rules.Render(values);
            if (parse.GetValue(output) is { } path)
            {
                File.WriteAllText(path, text);
            }
            else
            {
                parse.InvocationConfiguration.Output.Write(text);
            }
            return 0;
        }));
        return cmd;
    }

    private static Command Variables()
    {
        var template = new Argument<string>("template") { Description = "Rules template, e.g. deploy/prometheus/sluice-alerts.template.yml" };
        var cmd = new Command("variables", "List a template's variables: name, kind, default and what each sets.") { template };
        cmd.SetAction(parse => CliErrors.Run(parse, () =>
        {
            var rules = Load(parse.GetValue(template)!);
            int width = rules.Variables.Max(v => v.Name.Length) + 2;
            foreach (var v in rules.Variables)
            {
                parse.InvocationConfiguration.Output.WriteLine($"{v.Name.PadRight(width)}{v.Kind,-8}{v.Default,-10}{v.Description}");
            }
            return 0;
        }));
        return cmd;
    }

    private static AlertTemplate Load(string path) => AlertTemplate.Parse(File.ReadAllText(path), path);
}
