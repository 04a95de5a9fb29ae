namespace Sluice.Cli.Tests;

/// <summary>Which commands start with the thread pool's spin-wait off and socket completions inline, and that a setting
/// given is left alone. (The pool and the sockets of this test process started long ago, so the values set here change
/// nothing in it.)</summary>
public sealed class ThreadPoolTuningTests
{
    [Theory]
    [InlineData("gateway --config g.yaml")]
    [InlineData("bench gateway --rate 500")]
    public void Apply_GatewayCommands_TurnSpinningOff(string commandLine)
    {
        AppContext.SetData(ThreadPoolTuning.Setting, null);
        ThreadPoolTuning.Apply(commandLine.Split(' '));
        Assert.Equal(0, AppContext.GetData(ThreadPoolTuning.Setting));
    }

    [Theory]
    [InlineData("serve --model m")]
    [InlineData("bench engine")]
    [InlineData("gateway-ish")]
    public void Apply_OtherCommands_KeepTheRuntimesDefault(string commandLine)
    {
        AppContext.SetData(ThreadPoolTuning.Setting, null);
        ThreadPoolTuning.Apply(commandLine.Split(' '));
        Assert.Null(AppContext.GetData(ThreadPoolTuning.Setting));
    }

    [Fact]
    public void Apply_SettingGiven_IsLeftAlone()
    {
        AppContext.SetData(ThreadPoolTuning.Setting, "70");
        ThreadPoolTuning.Apply(["gateway"]);
        Assert.Equal("70", AppContext.GetData(ThreadPoolTuning.Setting));
        AppContext.SetData(ThreadPoolTuning.Setting, null);
    }

    [Theory]
    [InlineData("gateway --config g.yaml", "1")]
    [InlineData("bench gateway --rate 500", "1")]
    [InlineData("serve --model m", null)]
    [InlineData("bench engine", null)]
    public void Apply_InlineCompletions_OnlyForTheGatewayCommands(string commandLine, string? expected)
    {
        string? before = Environment.GetEnvironmentVariable(ThreadPoolTuning.InlineCompletions);
        try
        {
            Environment.SetEnvironmentVariable(ThreadPoolTuning.InlineCompletions, null);
            ThreadPoolTuning.Apply(commandLine.Split(' '));
            Assert.Equal(expected, Environment.GetEnvironmentVariable(ThreadPoolTuning.InlineCompletions));
            Assert.Equal(expected == "1", ThreadPoolTuning.InlineIo);
        }
        finally
        {
            Environment.SetEnvironmentVariable(ThreadPoolTuning.InlineCompletions, before);
        }
    }

    [Fact]
    public void Apply_InlineCompletionsGiven_IsLeftAlone()
    {
        string? before = Environment.GetEnvironmentVariable(ThreadPoolTuning.InlineCompletions);
        try
        {
            Environment.SetEnvironmentVariable(ThreadPoolTuning.InlineCompletions, "0");
            ThreadPoolTuning.Apply(["gateway"]);
            Assert.Equal("0", Environment.GetEnvironmentVariable(ThreadPoolTuning.InlineCompletions));
            Assert.False(ThreadPoolTuning.InlineIo);
        }
        finally
        {
            Environment.SetEnvironmentVariable(ThreadPoolTuning.InlineCompletions, before);
        }
    }
}
