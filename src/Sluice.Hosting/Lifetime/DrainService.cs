using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Sluice.Hosting.Lifetime;

/// <summary>
/// Graceful shutdown (SIGTERM, Ctrl+C): before the listener closes, readiness turns false and new
/// requests get 503, while in-flight requests, streams included, run to their end for up to
/// --shutdown-timeout; whatever is still running then is aborted (its blocks freed) and the host stops.
/// Runs in StoppingAsync, which the host calls before it stops the web server. A host that registered no
/// <see cref="IDrainTarget"/> has nothing to drain and stops at once.
/// </summary>
internal sealed partial class DrainService(SluiceHostingOptions options, ILogger<DrainService> log, IDrainTarget? target = null) : IHostedLifecycleService
{
    private static readonly TimeSpan AbortGrace = TimeSpan.FromSeconds(5);

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (target is null)
        {
            return;
        }
        target.BeginDrain();
        var timeout = options.ShutdownTimeout;
        int inFlight = target.InFlight;
        LogDraining(log, inFlight, timeout.TotalSeconds);
        if (timeout > TimeSpan.Zero && await target.WaitForIdleAsync(timeout))
        {
            LogDrained(log);
            return;
        }
        if (target.InFlight > 0)
        {
            LogAborting(log, target.InFlight);
            target.AbortInFlight();
            await target.WaitForIdleAsync(AbortGrace);
        }
    }

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        target?.MarkStopped();
        return Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Draining: not ready, refusing new requests, waiting up to {Seconds} s for {InFlight} in-flight sequences")]
    private static partial void LogDraining(ILogger log, int inFlight, double seconds);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Drained: every in-flight request finished")]
    private static partial void LogDrained(ILogger log);

    [LoggerMessage(EventId = 13, Level = LogLevel.Warning, Message = "Shutdown timeout reached: aborting {InFlight} in-flight sequences")]
    private static partial void LogAborting(ILogger log, int inFlight);
}
