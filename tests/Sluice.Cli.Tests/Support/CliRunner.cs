using System.CommandLine;

namespace Sluice.Cli.Tests.Support;

/// <summary>Runs the real `sluice` command tree in-process with captured output.</summary>
internal static class CliRunner
{
    public static (int Rc, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int rc = CliRoot.InvokeAsync(args, new InvocationConfiguration { Output = output, Error = error }).GetAwaiter().GetResult();
        return (rc, output.ToString(), error.ToString());
    }
}
