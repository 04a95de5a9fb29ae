namespace Sluice.Gateway.Health;

/// <summary>
/// A backend's circuit: Closed (traffic flows) → Open after too many consecutive failures (no traffic for
/// breaker.open_for) → HalfOpen (one trial request; success closes, failure opens again). A passing readiness check of an
/// open circuit past its open time closes it too. The metric value is the enum's.
/// </summary>
public enum CircuitState
{
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}
