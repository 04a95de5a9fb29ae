using Sluice.Hosting.Lifetime;

namespace Sluice.Gateway.Forwarding;

/// <summary>The gateway's work to drain on SIGTERM: proxied requests (streams included) run to their end; new ones get 503.</summary>
public sealed class GatewayDrain : IDrainTarget
{
    private readonly CancellationTokenSource _abort = new();
    private int _inFlight;

    public bool Draining { get; private set; }

    public bool Stopped { get; private set; }

    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Cancelled when the shutdown timeout passed: requests still running are cut.</summary>
    public CancellationToken Aborted => _abort.Token;

    public void Enter() => Interlocked.Increment(ref _inFlight);

    public void Exit() => Interlocked.Decrement(ref _inFlight);

    public void BeginDrain() => Draining = true;

    public async Task<bool> WaitForIdleAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (InFlight > 0)
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }
            await Task.Delay(20);
        }
        return true;
    }

    public void AbortInFlight() => _abort.Cancel();

    public void MarkStopped() => Stopped = true;
}
