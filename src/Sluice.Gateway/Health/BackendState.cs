using Sluice.Gateway.Configuration;

namespace Sluice.Gateway.Health;

/// <summary>
/// What the gateway knows of one backend, kept across configuration reloads (keyed by <see cref="Id"/>): requests in
/// flight, readiness from the active checks, the circuit breaker and its recent errors.
/// </summary>
public sealed class BackendState(string id, Uri url, string healthPath, TimeProvider time)
{
    /// <summary>How many recent errors the admin API shows.</summary>
    public const int RecentErrorCount = 10;

    private readonly Queue<BackendError> _errors = new();
    private int _inFlight;
    private long _requests;
    private long _failures;

    public string Id { get; } = id;
    public Uri Url { get; } = url;
    public string HealthPath { get; } = healthPath;
    public CircuitBreaker Breaker { get; } = new(time);

    /// <summary>The last readiness check passed (true until the first check says otherwise).</summary>
    public bool Ready { get; private set; } = true;

    private BackendLoad? _load;

    /// <summary>Its own load from its /metrics (routing.load_scrape); null when not read or not offered.</summary>
    public BackendLoad? Load => Volatile.Read(ref _load);

    public void SetLoad(BackendLoad? load) => Volatile.Write(ref _load, load);

    private readonly Lock _rate = new();
    private long _windowStart = long.MinValue;
    private int _windowCount;

    /// <summary>Whether fewer than <paramref name="rpm"/> requests were sent to it in the current one-minute window.</summary>
    public bool UnderRate(int rpm)
    {
        lock (_rate)
        {
            Roll();
            return _windowCount < rpm;
        }
    }

    /// <summary>Counts a request sent to it in the current one-minute window (rpm).</summary>
    public void CountRate()
    {
        lock (_rate)
        {
            Roll();
            _windowCount++;
        }
    }

    private void Roll()
    {
        long now = time.GetTimestamp();
        if (_windowStart == long.MinValue || time.GetElapsedTime(_windowStart, now) >= TimeSpan.FromMinutes(1))
        {
            (_windowStart, _windowCount) = (now, 0);
        }
    }

    /// <summary>It answered a continuation of a final assistant message (prefill) with a 400: it is not asked for one again.</summary>
    public bool RefusesPrefill { get; set; }

    /// <summary>How this backend (a <c>sluice serve</c>) continues a cut stream: learned from its <c>/version</c> before the
    /// first continuation it is sent, or from a 400 that names a continuation field; remembered.</summary>
    public ContinuationSupport Continuation { get; set; }

    public int InFlight => Volatile.Read(ref _inFlight);
    public long Requests => Interlocked.Read(ref _requests);
    public long Failures => Interlocked.Read(ref _failures);

    private long _coolUntil;

    /// <summary>May take traffic now: ready, not cooling down after a 429, and its circuit lets requests through.</summary>
    public bool Available(BreakerSettings breaker, bool ignoreReadiness = false) => (Ready || ignoreReadiness) && time.GetTimestamp() >= Interlocked.Read(ref _coolUntil) && Breaker.WouldAllow(breaker);

    /// <summary>The backend asked for a pause (429 with Retry-After): no request goes to it for <paramref name="delay"/>.</summary>
    public void CoolDown(TimeSpan delay, string error)
    {
        Interlocked.Exchange(ref _coolUntil, time.GetTimestamp() + (long)(delay.TotalSeconds * time.TimestampFrequency));
        Remember(error + $" (cooling down {delay.TotalSeconds:0.###} s)");
    }

    public void Started()
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _requests);
    }

    public void Ended() => Interlocked.Decrement(ref _inFlight);

    public void Succeeded() => Breaker.Success();

    public void Failed(string error, BreakerSettings breaker)
    {
        Interlocked.Increment(ref _failures);
        Breaker.Failure(breaker);
        Remember(error);
    }

    public void CheckResult(bool ready, string? error, BreakerSettings breaker)
    {
        Ready = ready;
        if (ready)
        {
            Breaker.CheckPassed(breaker);
        }
        else
        {
            Remember("readiness check: " + error);
        }
    }

    public void Reset()
    {
        Breaker.Reset();
        Interlocked.Exchange(ref _coolUntil, 0);
        Ready = true;
        lock (_errors)
        {
            _errors.Clear();
        }
    }

    public IReadOnlyList<BackendError> RecentErrors()
    {
        lock (_errors)
        {
            return [.. _errors];
        }
    }

    private void Remember(string error)
    {
        lock (_errors)
        {
            if (_errors.Count == RecentErrorCount)
            {
                _errors.Dequeue();
            }
            _errors.Enqueue(new BackendError(time.GetUtcNow(), error));
        }
    }
}

public readonly record struct BackendError(DateTimeOffset Time, string Message);

/// <summary>What a <c>sluice serve</c> backend takes to continue a cut stream (docs/gateway.md, "Streams").</summary>
public enum ContinuationSupport
{
    /// <summary>Not asked yet: its /version is read before its first continuation.</summary>
    NotAsked,

    /// <summary>Its /version could not be read: continued_token_ids is tried; a 400 naming the field says otherwise.</summary>
    Unknown,

    /// <summary>continued_token_ids on completions and chat, stop strings included: every continuation exact.</summary>
    TokenIds,

    /// <summary>An older sluice serve (its /version lists no continuation fields): only the prompt's ids plus the ids so
    /// far, and continued_tokens; no continued_token_ids (it would ignore the field, not refuse it).</summary>
    PromptTokens,

    /// <summary>It refused a continuation field with a 400: continued as any OpenAI-compatible backend (text, prefill, restart).</summary>
    None,
}
