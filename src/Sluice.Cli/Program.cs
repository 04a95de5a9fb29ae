using Sluice.Cli;

ThreadPoolTuning.Apply(args);
return await CliRoot.InvokeAsync(args);
