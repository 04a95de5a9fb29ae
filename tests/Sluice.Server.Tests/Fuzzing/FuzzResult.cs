namespace Sluice.Server.Tests.Fuzzing;

internal enum FuzzOutcome
{
    /// <summary>The server answered (a status, and the whole body or stream unless we left on purpose).</summary>
    Answered,

    /// <summary>We walked away as planned before the answer was complete.</summary>
    CancelledByUs,

    /// <summary>No complete answer within the per-request timeout.</summary>
    Hang,

    /// <summary>The connection failed without our doing.</summary>
    TransportError,
}

/// <summary>What one request got, as the client saw it.</summary>
internal sealed record FuzzResult
{
    public required FuzzRequest Request { get; init; }
    public FuzzOutcome Outcome { get; init; }

    /// <summary>0 when no status line arrived.</summary>
    public int Status { get; init; }

    public double Seconds { get; init; }
    public string? ErrorType { get; init; }
    public string? ErrorMessage { get; init; }
    public string? ErrorParam { get; init; }
    public string? ErrorCode { get; init; }
    public bool RequestIdEchoed { get; init; } = true;

    /// <summary>An event of a 200 stream that carried an error object (type: message).</summary>
    public string? StreamError { get; init; }

    /// <summary>What is wrong with an answer's shape (not JSON, no [DONE], wrong number of choices...).</summary>
    public string? Problem { get; init; }

    /// <summary>Where a hang or transport error happened (waiting for headers, mid-stream...) and its message.</summary>
    public string? Detail { get; init; }
}
