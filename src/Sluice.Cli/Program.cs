using System.CommandLine;
using Sluice.Cli.Commands;

var root = new RootCommand("Sluice: serve open-weight language models on your own hardware.");
root.Subcommands.Add(ModelCommands.Create());
return await root.Parse(args).InvokeAsync();
