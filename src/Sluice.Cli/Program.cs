using Sluice.Cli;

return await CliRoot.Create().Parse(args).InvokeAsync();
