namespace Sluice.Hosting.Lifetime;

/// <summary>The work a host drains on SIGTERM (the server: its admitted generation requests).</summary>
public interface IDrainTarget
{
    /// <summary>Stops taking new work: readiness fails and new requests get 503.</summary>
    void BeginDrain();

    /// <summary>Units of work still running (the server counts sequences).</summary>
    int InFlight { get; }

    /// <summary>Waits until nothing is in flight; false when <paramref name="timeout"/> passed first.</summary>
    Task<bool> WaitForIdleAsync(TimeSpan timeout);

    /// <summary>Aborts whatever is still running (the shutdown timeout passed).</summary>
    void AbortInFlight();

    /// <summary>The host has stopped.</summary>
    void MarkStopped();
}
