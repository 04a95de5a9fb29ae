using System.CommandLine;
using Sluice.Cli.Commands;

namespace Sluice.Cli;

/// <summary>The `sluice` command tree.</summary>
internal static class CliRoot
{
    public static RootCommand Create()
    {
        var root = new RootCommand("Sluice: serve open-weight language models on your own hardware.");
        root.Subcommands.Add(BenchCommands.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ModelCommands.Create());
        root.Subcommands.Add(ServeCommand.Create());
        return root;
    }
}
