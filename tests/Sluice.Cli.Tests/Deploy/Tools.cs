using System.Diagnostics;

namespace Sluice.Cli.Tests.Deploy;

/// <summary>The outside tools the deploy checks run (kubectl, node, docker-compose): skipped when missing, except under CI=true.</summary>
internal static class Tools
{
    /// <summary>The executable on PATH, or null.</summary>
    public static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);

    public static string Require(string name, string installedBy)
    {
        if (Find(name) is { } path)
        {
            return path;
        }
        bool ci = Environment.GetEnvironmentVariable("CI") == "true";
        Skip.IfNot(ci, $"{name} is not installed ({installedBy})");
        throw new InvalidOperationException($"{name} is not installed ({installedBy}) and CI=true");
    }

    public static (int Rc, string Output) Run(string file, IEnumerable<string> args, string? workingDirectory = null, params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? "" };
        foreach (var (n, v) in environment)
        {
            start.Environment[n] = v;
        }
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
