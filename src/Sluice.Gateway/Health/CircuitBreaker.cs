using Sluice.Gateway.Configuration;

namespace Sluice.Gateway.Health;

/// <summary>The circuit breaker of one backend (see <see cref="CircuitState"/>). Thread-safe; the clock is injected.</summary>
public sealed class CircuitBreaker(TimeProvider time)
{
    private readonly Lock _lock = new();
    private int _consecutiveFailures;
    private long _openedAt;
    private bool _trialInFlight;

    public CircuitState State { get; private set; } = CircuitState.Closed;

    /// <summary>Whether a request may go to the backend now; an open circuit past its time lets exactly one trial through.</summary>
    public bool TryAcquire(BreakerSettings settings)
    {
        lock (_lock)
        {
            switch (State)
            {
                case CircuitState.Closed:
                    return true;
                case CircuitState.Open when time.GetElapsedTime(_openedAt) >= settings.OpenFor:
                    State = CircuitState.HalfOpen;
                    _trialInFlight = true;
                    return true;
                case CircuitState.HalfOpen when !_trialInFlight:
                    _trialInFlight = true;
                    return true;
                default:
                    return false;
            }
        }
    }

    /// <summary>Whether <see cref="TryAcquire"/> could say yes now, without taking the trial.</summary>
    public bool WouldAllow(BreakerSettings settings)
    {
        lock (_lock)
        {
            return State == CircuitState.Closed
                || (State == CircuitState.Open && time.GetElapsedTime(_openedAt) >= settings.OpenFor)
                || (State == CircuitState.HalfOpen && !_trialInFlight);
        }
    }

    public void Success()
    {
        lock (_lock)
        {
            _consecutiveFailures = 0;
            _trialInFlight = false;
            State = CircuitState.Closed;
        }
    }

    public void Failure(BreakerSettings settings)
    {
        lock (_lock)
        {
            _consecutiveFailures++;
            _trialInFlight = false;
            if (State == CircuitState.HalfOpen || _consecutiveFailures >= settings.FailureThreshold)
            {
                State = CircuitState.Open;
                _openedAt = time.GetTimestamp();
            }
        }
    }

    /// <summary>A readiness check passed: an open circuit past its open time closes (the backend recovered).</summary>
    public void CheckPassed(BreakerSettings settings)
    {
        lock (_lock)
        {
            if (State == CircuitState.Open && time.GetElapsedTime(_openedAt) >= settings.OpenFor)
            {
                State = CircuitState.Closed;
                _consecutiveFailures = 0;
            }
        }
    }

    public void Reset() => Success();
}
