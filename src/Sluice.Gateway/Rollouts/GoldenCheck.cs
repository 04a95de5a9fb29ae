using System.Diagnostics;

namespace Sluice.Gateway.Rollouts;

/// <summary>
/// The golden-prompt gate: a command run through /bin/sh (e.g. <c>sluice eval golden --url {url} --suite golden.yaml</c>);
/// <c>{url}</c> becomes a canary replica's URL and <c>{model}</c> its model name. Exit 0 passes; another exit code, a
/// command that cannot start or one still running at the timeout (killed) fails, with its last output line as the reason.
/// </summary>
public static class GoldenCheck
{
    public static async Task<(bool Passed, string Reason)> RunAsync(string command, Uri url, string model, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string expanded = command.Replace("{url}", url.GetLeftPart(UriPartial.Path).TrimEnd('/'), StringComparison.Ordinal)
            .Replace("{model}", model, StringComparison.Ordinal);
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(expanded);
        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return (false, $"golden command could not start: {ex.Message}");
        }
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            return (false, $"golden command still running after {timeout.TotalSeconds:0.###} s: killed");
        }
        string output = (await stderr).Trim() is { Length: > 0 } err ? err : (await stdout).Trim();
        string last = output.Split('\n').LastOrDefault()?.Trim() ?? "";
        return process.ExitCode == 0
            ? (true, "golden command passed")
            : (false, $"golden command exited {process.ExitCode}" + (last.Length > 0 ? $": {(last.Length > 300 ? last[..300] : last)}" : ""));
    }
}
