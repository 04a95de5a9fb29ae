using Sluice.Gateway.Routing;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// What one client request used, filled in by the proxy as its attempts go (on <c>HttpContext.Features</c>) and turned
/// into exactly one <see cref="UsageRecord"/> by <see cref="UsageRecorder"/>: before the response's last bytes when
/// it completes, at its end otherwise (an error, a cancelled or cut stream).
/// </summary>
public sealed class RequestUsage(string requestId, DateTimeOffset start)
{
    public string RequestId { get; } = requestId;
    public DateTimeOffset Start { get; } = start;

    /// <summary>The public model (a fallback's once the request went there).</summary>
    public string Model { get; set; } = "";

    /// <summary>The deployment of the last attempt: its backend, version and price are the row's.</summary>
    public Deployment? Deployment { get; set; }

    public long PromptTokens { get; set; }
    public long CompletionTokens { get; set; }
    public bool Streamed { get; set; }
    public bool Cancelled { get; set; }
    /// <summary>Answered from the response cache: billed <see cref="CachedSpendPico"/> (cache.billing), not at a deployment's price.</summary>
    public bool Cached { get; set; }

    /// <summary>A cache hit's cost: the answer's original cost times the billing factor (0 when free).</summary>
    public long CachedSpendPico { get; set; }
    public bool Counted { get; set; }
    public int Status { get; set; }

    /// <summary>Fills in the tokens of an unfinished stream from what was delivered (set by the stream relay).</summary>
    public Func<Task>? CountDelivered { get; set; }

    /// <summary>The request's budget reservation: settled with <see cref="BilledPico"/> and <see cref="BilledTokens"/> once its row has committed.</summary>
    public BudgetReservation? Reservation { get; set; }

    /// <summary>What the request's row bills (pico-units; prompt + completion tokens), once recorded.</summary>
    public long BilledPico { get; set; }

    public long BilledTokens { get; set; }

    /// <summary>Set once the row is handed to the writer: a request is recorded once.</summary>
    public bool Recorded { get; set; }
}
