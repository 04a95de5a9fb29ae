using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json;
using Sluice.Engine.Formats;
using Sluice.Engine.Serving;

namespace Sluice.Cli;

/// <summary>A failure a command describes itself: its message (after "error: "), an optional hint line, and its exit code.</summary>
internal sealed class CommandException(string message, string? hint = null, int exitCode = CliErrors.UsageError, Exception? inner = null)
    : Exception(message, inner)
{
    public string? Hint { get; } = hint;

    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// The one place the CLI turns exceptions into exit codes, for every command: a failure the user can act on (a bad flag
/// or value, a missing or malformed file, a refused request, a server that cannot be reached) is one "error: ..." line on
/// stderr and exit code 2; anything else is a bug and propagates with its stack trace. Exit 1 is left to the commands
/// for what they find (a doctor finding, a checksum mismatch, a failed soak).
/// </summary>
internal static class CliErrors
{
    /// <summary>Exit code of a command line that cannot run as written, or whose inputs cannot be read.</summary>
    public const int UsageError = 2;

    public static int Run(ParseResult parse, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception ex) when (ex is CommandException || IsUserError(ex))
        {
            return Report(parse, ex);
        }
    }

    public static async Task<int> RunAsync(ParseResult parse, Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (Exception ex) when (ex is CommandException || IsUserError(ex))
        {
            return Report(parse, ex);
        }
    }

    /// <summary>
    /// Runs one step of a command whose failure the user reads as "<paramref name="context"/>: message", with
    /// <paramref name="unreachableHint"/> on a line of its own when the server could not be reached at all.
    /// </summary>
    public static async Task<T> StepAsync<T>(string context, Func<Task<T>> step, string? unreachableHint = null)
    {
        try
        {
            return await step();
        }
        catch (Exception ex) when (IsUserError(ex))
        {
            throw new CommandException($"{context}: {ex.Message}", ex is HttpRequestException or TaskCanceledException ? unreachableHint : null, UsageError, ex);
        }
    }

    /// <summary>What the user (or the machine and network around the command) got wrong, not the command itself.</summary>
    private static bool IsUserError(Exception ex) => ex is ArgumentException or FormatException or ModelFormatException or RequestRejectedException
        or IOException or UnauthorizedAccessException or NotSupportedException or CryptographicException or InvalidOperationException
        or HttpRequestException or UriFormatException or JsonException or TaskCanceledException;

    /// <summary>Exit code of a file the command may not read or write (permission denied).</summary>
    public const int PermissionDenied = 3;

    private static int Report(ParseResult parse, Exception ex)
    {
        var stderr = parse.InvocationConfiguration.Error;
        if (PermissionProblem(ex) is { } denied)
        {
            // .NET says "Access to the path 'X' is denied.": say what it is and what to do, as ls and cat would
            stderr.WriteLine($"error: permission denied: {denied.Message}");
            stderr.WriteLine("  run as a user who may read the file, or change its owner or mode (chown, chmod)");
            return PermissionDenied;
        }
        stderr.WriteLine("error: " + ex.Message);
        if (ex is CommandException { Hint: { } hint })
        {
            stderr.WriteLine("  " + hint);
        }
        return ex is CommandException c ? c.ExitCode : UsageError;
    }

    private static UnauthorizedAccessException? PermissionProblem(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is UnauthorizedAccessException denied)
            {
                return denied;
            }
        }
        return null;
    }
}
