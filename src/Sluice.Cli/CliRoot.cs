using System.CommandLine;
using System.CommandLine.Invocation;
using Sluice.Cli.Commands;

namespace Sluice.Cli;

/// <summary>The `sluice` command tree.</summary>
internal static class CliRoot
{
    public static RootCommand Create()
    {
        var root = new RootCommand("Sluice: serve open-weight language models on your own hardware.");
        root.Subcommands.Add(AlertsCommand.Create());
        root.Subcommands.Add(BenchCommands.Create());
        root.Subcommands.Add(CapacityCommand.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        root.Subcommands.Add(EvalCommands.Create());
        root.Subcommands.Add(GatewayCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ModelCommands.Create());
        root.Subcommands.Add(ServeCommand.Create());
        return root;
    }

    /// <summary>
    /// Parses and runs a command line. A parse error (an unknown flag, a missing or malformed value) is one
    /// "error: ..." line per problem on stderr and exit code 2, like the errors the commands find themselves,
    /// rather than System.CommandLine's exit code 1 (which `doctor` and `model verify` use for a finding)
    /// and a page of help.
    /// </summary>
    public static Task<int> InvokeAsync(string[] args, InvocationConfiguration? configuration = null)
    {
        configuration ??= new InvocationConfiguration();
        var parse = Create().Parse(args);
        if (parse.Action is ParseErrorAction && parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                configuration.Error.WriteLine("error: " + error.Message);
            }
            return Task.FromResult(CliErrors.UsageError);
        }
        return parse.InvokeAsync(configuration);
    }
}
