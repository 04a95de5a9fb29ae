using Sluice.Cli;

return await CliRoot.InvokeAsync(args);
