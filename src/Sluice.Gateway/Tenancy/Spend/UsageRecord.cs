namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// One client request's usage and spend: exactly one per request through the gateway, written after its last attempt.
/// <see cref="RowId"/> is the gateway's own unique id (the idempotency key of the write); <see cref="RequestId"/> is the
/// request's X-Request-Id, which a client may choose, so two requests may share it and neither is lost.
/// </summary>
public sealed record UsageRecord
{
    public required string RowId { get; init; }
    public required string RequestId { get; init; }
    public string? KeyId { get; init; }
    public string? Team { get; init; }
    public string? User { get; init; }

    /// <summary>The public model the request was answered under (a fallback's name when it went there).</summary>
    public required string Model { get; init; }

    /// <summary>The backend (host:port) and version that answered; null when none did.</summary>
    public string? Backend { get; init; }
    public string? Version { get; init; }

    public long PromptTokens { get; init; }
    public long CompletionTokens { get; init; }

    /// <summary>Pico-units (10^-12) of the configured currency.</summary>
    public long SpendPico { get; init; }

    public bool Streamed { get; init; }
    public bool Cancelled { get; init; }
    public bool Cached { get; init; }

    /// <summary>The tokens were counted by the gateway (the backend sent no usage), not reported by the backend.</summary>
    public bool Counted { get; init; }

    /// <summary>The HTTP status the client got (499: it went away first).</summary>
    public int Status { get; init; }

    public DateTimeOffset Start { get; init; }
    public DateTimeOffset End { get; init; }

    public decimal Spend => Price.ToMoney(SpendPico);
}
