using System.Diagnostics;

namespace Sluice.Tests.Shared;

/// <summary>Prometheus' own checker (Debian's `prometheus` package, which test.sh installs), run as a child process.</summary>
internal static class Promtool
{
    public static string? Path =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => System.IO.Path.Combine(d, "promtool")).FirstOrDefault(File.Exists);

    /// <summary>Skips the test when promtool is missing, except under CI=true, where that fails.</summary>
    public static string Require()
    {
        string? path = Path;
        bool ci = Environment.GetEnvironmentVariable("CI") == "true";
        Skip.If(path is null && !ci, "promtool is not installed (apt-get install prometheus; test.sh does)");
        Assert.True(path is not null, "promtool is not installed: test.sh installs Debian's prometheus package");
        return path!;
    }

    public static async Task<(int Rc, string Output)> RunAsync(string promtool, string[] args, string? stdin = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(promtool, args)
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? "",
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
