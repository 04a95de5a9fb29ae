using System.Diagnostics;

namespace Sluice.Cli.Tests.Deploy;

/// <summary>The outside tools the deploy checks run (kubectl, node, docker-compose): skipped when missing, except under CI=true.</summary>
internal static class Tools
{
    public static string Require(string name, string installedBy)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string path = Path.Combine(dir, name);
            if (File.Exists(path))
            {
                return path;
            }
        }
        bool ci = Environment.GetEnvironmentVariable("CI") == "true";
        Skip.IfNot(ci, $"{name} is not installed ({installedBy})");
        throw new InvalidOperationException($"{name} is not installed ({installedBy}) and CI=true");
    }

    public static (int Rc, string Output) Run(string file, IEnumerable<string> args, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? "" };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }
}
