using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Diagnostics.NETCore.Client;
using Sluice.Hosting.Errors;

namespace Sluice.Hosting.Diagnostics;

/// <summary>
/// On-demand diagnostics of the host's own process, produced in-process through the runtime's diagnostics IPC (the
/// <c>Microsoft.Diagnostics.NETCore.Client</c> library the dotnet-trace and dotnet-dump tools use), behind the same key as
/// every other route: GET /debug/heap, a core dump with the managed heap (<c>dotnet-dump analyze</c> opens it; the
/// runtime's createdump writes it, an ELF core on Linux), and GET /debug/trace?seconds=N, a CPU-sampling EventPipe trace
/// (.nettrace, dotnet-trace's cpu-sampling profile; PerfView, speedscope via <c>dotnet-trace convert</c>, Visual Studio
/// open it). One of each at a time: a second gets 409.
/// </summary>
public sealed class ProcessDiagnostics(DiagnosticsOptions options)
{
    /// <summary>dotnet-trace's cpu-sampling profile: the sample profiler and the runtime's default keywords (JIT, loader, GC, exceptions...), which name the methods.</summary>
    private const long RuntimeDefaultKeywords = 0x14C14FCCBD;

    private int _tracing, _dumping;

    public static void Map(IEndpointRouteBuilder routes, ProcessDiagnostics diagnostics)
    {
        routes.MapGet("/debug/heap", diagnostics.HeapAsync);
        routes.MapGet("/debug/trace", diagnostics.TraceAsync);
    }

    /// <summary>GET /debug/heap: writes a dump with the heap to a temporary file, streams it back and deletes it.</summary>
    public async Task HeapAsync(HttpContext http)
    {
        if (Interlocked.Exchange(ref _dumping, 1) != 0)
        {
            throw Conflict("A heap dump is already being written; wait for it to finish.");
        }
        string path = Path.Combine(options.DumpDirectory ?? Path.GetTempPath(), $"sluice-heap-{Environment.ProcessId}-{Guid.NewGuid():N}.dmp");
        try
        {
            try
            {
                await new DiagnosticsClient(Environment.ProcessId).WriteDumpAsync(DumpType.WithHeap, path, WriteDumpFlags.None, http.RequestAborted);
            }
            catch (Exception ex) when (ex is ServerErrorException or DiagnosticsClientException or IOException or UnauthorizedAccessException or TimeoutException)
            {
                throw ApiException.Internal($"The heap dump could not be written ({ex.GetType().Name}: {ex.Message}). createdump needs ptrace "
                    + "rights over the process (CAP_SYS_PTRACE or kernel.yama.ptrace_scope <= 1) and room in " + Path.GetDirectoryName(path) + ".");
            }
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
            http.Response.ContentType = "application/octet-stream";
            http.Response.ContentLength = file.Length;
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"sluice-{Environment.ProcessId}.dmp\"";
            await file.CopyToAsync(http.Response.Body, http.RequestAborted);
        }
        finally
        {
            File.Delete(path);
            Volatile.Write(ref _dumping, 0);
        }
    }

    /// <summary>GET /debug/trace?seconds=N: an EventPipe session with the sample profiler for N seconds (default 10), streamed back as it is written.</summary>
    public async Task TraceAsync(HttpContext http)
    {
        var duration = Seconds(http.Request.Query["seconds"]);
        if (Interlocked.Exchange(ref _tracing, 1) != 0)
        {
            throw Conflict("A trace is already running; wait for it to finish.");
        }
        try
        {
            EventPipeProvider[] providers =
            [
                new("Microsoft-DotNETCore-SampleProfiler", EventLevel.Informational),
                new("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, RuntimeDefaultKeywords),
            ];
            using var session = await StartSessionAsync(providers, http.RequestAborted);
            http.Response.ContentType = "application/octet-stream";
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"sluice-{Environment.ProcessId}.nettrace\"";
            var copy = session.EventStream.CopyToAsync(http.Response.Body, http.RequestAborted);
            try
            {
                await Task.WhenAny(copy, Task.Delay(duration, options.Time, http.RequestAborted));
            }
            finally
            {
                await session.StopAsync(CancellationToken.None); // ends the stream after the rundown (method names)
            }
            await copy;
        }
        finally
        {
            Volatile.Write(ref _tracing, 0);
        }
    }

    private static async Task<EventPipeSession> StartSessionAsync(EventPipeProvider[] providers, CancellationToken cancel)
    {
        try
        {
            return await new DiagnosticsClient(Environment.ProcessId).StartEventPipeSessionAsync(providers, requestRundown: true, circularBufferMB: 256, cancel);
        }
        catch (Exception ex) when (ex is DiagnosticsClientException or IOException or UnauthorizedAccessException or TimeoutException)
        {
            throw ApiException.Internal($"The trace could not start ({ex.GetType().Name}: {ex.Message}): the runtime's diagnostics IPC must be on "
                + "(DOTNET_EnableDiagnostics not 0) with its socket writable in the temporary folder.");
        }
    }

    private TimeSpan Seconds(string? text)
    {
        int max = options.MaxTraceSeconds;
        if (string.IsNullOrEmpty(text))
        {
            return TimeSpan.FromSeconds(Math.Min(DiagnosticsOptions.DefaultTraceSeconds, max));
        }
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) || seconds < 1 || seconds > max)
        {
            throw ApiException.BadRequest($"'seconds' must be a whole number from 1 to {max} (the server's limit, --debug-trace-max-seconds), got '{text}'.", "seconds");
        }
        return TimeSpan.FromSeconds(seconds);
    }

    private static ApiException Conflict(string message) => new(409, message, "invalid_request_error", "conflict", null);
}
