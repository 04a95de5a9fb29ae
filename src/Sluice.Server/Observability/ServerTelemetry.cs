using Sluice.Hosting.Errors;

namespace Sluice.Server.Observability;

/// <summary>
/// The server's running totals and its stream of <see cref="RequestRecord"/>s: the seam the metrics,
/// structured logs and traces hang on. Thread-safe.
/// </summary>
public sealed class ServerTelemetry
{
    private long _served, _failed;

    public RejectionCounters Rejections { get; } = new();

    /// <summary>Raised once per finished request (generation routes and rejections alike); handlers must be quick and not throw.</summary>
    public event Action<RequestRecord>? RequestCompleted;

    /// <summary>Generation requests that completed (all sequences stopped or hit their length).</summary>
    public long RequestsServed => Interlocked.Read(ref _served);

    /// <summary>Requests the server failed (500s, timeouts, shutdown aborts).</summary>
    public long RequestsFailed => Interlocked.Read(ref _failed);

    /// <summary>Failed over served plus failed; 0 before any request.</summary>
    public double ErrorRate
    {
        get
        {
            long served = RequestsServed, failed = RequestsFailed;
            return served + failed == 0 ? 0 : (double)failed / (served + failed);
        }
    }

    internal void Publish(RequestRecord record)
    {
        switch (record.Outcome)
        {
            case RequestOutcome.Completed:
                Interlocked.Increment(ref _served);
                break;
            case RequestOutcome.Failed or RequestOutcome.TimedOut or RequestOutcome.Aborted:
                Interlocked.Increment(ref _failed);
                break;
        }
        if (record.Rejection is { } reason)
        {
            Rejections.Increment(reason);
        }
        try
        {
            RequestCompleted?.Invoke(record);
        }
        catch
        {
            // an observer's failure must not fail the request
        }
    }
}
