using Sluice.Cli.Tests.Support;

namespace Sluice.Cli.Tests.Commands;

/// <summary>A model file the user may not read: one clear line and exit code 3 from `model info` and `model verify`, no stack trace.</summary>
public sealed class PermissionTests
{
    // write-only (0200) sysctl file: reading it is refused with EACCES even for root, so the test runs as any user
    private const string Unreadable = "/proc/sys/vm/drop_caches";

    [Theory]
    [InlineData("model info " + Unreadable)]
    [InlineData("model verify " + Unreadable + " --sha256 0000000000000000000000000000000000000000000000000000000000000000")]
    public void UnreadableModelFile_PermissionDeniedExitCode3(string commandLine)
    {
        var (rc, _, error) = CliRunner.Run(commandLine.Split(' '));
        Assert.Equal(3, rc);
        Assert.StartsWith("error: permission denied: ", error);
        Assert.Contains(Unreadable, error);
        Assert.Contains("chmod", error);
        Assert.DoesNotContain("   at ", error);
    }
}
