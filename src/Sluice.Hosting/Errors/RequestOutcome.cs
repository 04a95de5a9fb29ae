namespace Sluice.Hosting.Errors;

/// <summary>How a request ended.</summary>
public enum RequestOutcome
{
    /// <summary>Every sequence finished (stop or length).</summary>
    Completed,

    /// <summary>Refused before generation (bad input, auth, queue full, not ready...).</summary>
    Rejected,

    /// <summary>The client disconnected; the request was aborted and its KV blocks freed.</summary>
    Cancelled,

    /// <summary>Ran past --request-timeout.</summary>
    TimedOut,

    /// <summary>Cut short by shutdown after --shutdown-timeout.</summary>
    Aborted,

    /// <summary>The server or engine failed (500).</summary>
    Failed,
}
