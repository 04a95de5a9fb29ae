using System.CommandLine;

namespace Sluice.Cli.Tests;

public sealed class CliErrorsTests
{
    private static (int Code, string Error) Invoke(Func<ParseResult, int> action)
    {
        var root = new RootCommand();
        root.SetAction(action);
        var error = new StringWriter();
        int code = root.Parse([]).Invoke(new InvocationConfiguration { Output = new StringWriter(), Error = error });
        return (code, error.ToString());
    }

    [Fact]
    public void Run_AUsersMistake_IsOneErrorLineAndExitCode2()
    {
        var (code, error) = Invoke(parse => CliErrors.Run(parse, () => throw new FileNotFoundException("model.gguf not found")));
        Assert.Equal(2, code);
        Assert.Equal("error: model.gguf not found\n", error.Replace("\r\n", "\n"));
    }

    [Fact]
    public void Run_ACommandsOwnFailure_PrintsItsHintAndExitCode()
    {
        var (code, error) = Invoke(parse => CliErrors.Run(parse, () => throw new CommandException("cannot read x", "see the runbook", exitCode: 3)));
        Assert.Equal(3, code);
        Assert.Equal("error: cannot read x\n  see the runbook\n", error.Replace("\r\n", "\n"));
    }

    [Fact]
    public void Run_ABug_IsNotDressedUpAsAUsageError()
    {
        var (code, error) = Invoke(parse => CliErrors.Run(parse, () => throw new NullReferenceException("bug")));
        Assert.NotEqual(2, code);
        Assert.DoesNotContain("error: bug", error);
    }

    [Fact]
    public async Task StepAsync_NetworkFailure_NamesTheStepAndAddsTheHint()
    {
        var ex = await Assert.ThrowsAsync<CommandException>(() => CliErrors.StepAsync<int>("cannot read http://x/", () => throw new HttpRequestException("refused"), "is it up?"));
        Assert.Equal("cannot read http://x/: refused", ex.Message);
        Assert.Equal("is it up?", ex.Hint);
        var parse = await Assert.ThrowsAsync<CommandException>(() => CliErrors.StepAsync<int>("step", () => throw new FormatException("bad")));
        Assert.Null(parse.Hint);
    }
}
