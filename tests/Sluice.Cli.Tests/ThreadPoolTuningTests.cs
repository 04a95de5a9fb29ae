namespace Sluice.Cli.Tests;

/// <summary>Which commands start with the thread pool's spin-wait off, and that a setting given is left alone. (The pool
/// of this test process started long ago, so the value set here changes nothing in it.)</summary>
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
}
