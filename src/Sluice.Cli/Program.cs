using System.CommandLine;
using Sluice.Cli.Commands;

var root = new RootCommand("Sluice: serve open-weight language models on your own hardware.");
root.Subcommands.Add(ModelCommands.Create());
root.Subcommands.Add(GenerateCommand.Create());
return await root.Parse(args).InvokeAsync();
