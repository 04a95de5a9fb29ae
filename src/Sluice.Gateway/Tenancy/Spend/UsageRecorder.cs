using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Sluice.Gateway.Observability;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// Turns a request's <see cref="RequestUsage"/> into its one spend row: the key and team from the request's
/// <see cref="VirtualKey"/>, the cost from the answering deployment's price (pico-units, exact), the metrics, and the
/// durable write (group commit) the caller awaits before its response ends. Off (no writer) when the config has no
/// tenancy or tenancy.spend.enabled is false: usage then only goes to the metrics.
/// A row that cannot be written is never dropped: it is kept in memory and written once the database is back (or on
/// drain), logged and counted (sluice_gateway_spend_writes_total{result="retained"}); tenancy.fail_mode decides what
/// the client gets: open, its answer; closed, a 503 naming the spend log instead of the answer's last bytes, and while
/// the database stays unreachable new requests are refused before they are forwarded (<see cref="ThrowIfUnavailable"/>).
/// </summary>
public sealed partial class UsageRecorder(GatewayMetrics metrics, TimeProvider time, ILogger<UsageRecorder> log)
{
    /// <summary>The group-commit writer, once the store is open (at start); null: spend is not recorded.</summary>
    public SpendWriter? Writer { get; set; }

    /// <summary>The fail mode's counting, logging and 503s (set with the writer).</summary>
    public TenancyFailures? Failures { get; set; }

    public bool Enabled => Writer is not null;

    private string What => $"spend log ({Writer?.Store.Database.Description})";

    /// <summary>Under fail_mode closed, while the spend log's database is failing: the 503 naming it, before the request is forwarded.</summary>
    public void ThrowIfUnavailable()
    {
        if (Writer is { Failing: { } reason } && Failures is { Mode: FailMode.Closed } failures
            && failures.Failed("database", What, reason, "spend_store_unavailable") is { } refuse)
        {
            throw refuse;
        }
    }

    public RequestUsage Begin(HttpContext context, string requestId)
    {
        var usage = new RequestUsage(requestId, time.GetUtcNow());
        context.Features.Set(usage);
        return usage;
    }

    /// <summary>
    /// Records the request's usage once (later calls do nothing) and waits for its row to commit. A row that cannot be
    /// committed is retained; under fail_mode closed this then throws the 503 (unless <paramref name="final"/>: the
    /// response is over, nothing is left to refuse), and the retained row says so: status 503, and for an answer the
    /// client never got (<paramref name="final"/> false, not streamed) no tokens.
    /// </summary>
    public async Task RecordAsync(HttpContext context, bool final = false)
    {
        if (Writer is not { } writer || context.Features.Get<RequestUsage>() is not { Recorded: false } usage)
        {
            return;
        }
        usage.Recorded = true;
        var key = context.Features.Get<VirtualKey>();
        var deployment = usage.Deployment;
        long spend = usage.Cached ? usage.CachedSpendPico
            : deployment?.Config.Price is { } price ? price.Cost(usage.PromptTokens, usage.CompletionTokens) : 0;
        var row = new UsageRecord
        {
            RowId = Guid.NewGuid().ToString("N"),
            RequestId = usage.RequestId,
            KeyId = key?.Id,
            Team = key?.Team,
            User = key?.Owner,
            Model = usage.Model,
            Backend = deployment?.Backend.Id,
            Version = deployment?.Config.Version,
            PromptTokens = usage.PromptTokens,
            CompletionTokens = usage.CompletionTokens,
            SpendPico = spend,
            Streamed = usage.Streamed,
            Cancelled = usage.Cancelled,
            Cached = usage.Cached,
            Counted = usage.Counted,
            Status = usage.Status,
            Start = usage.Start,
            End = time.GetUtcNow(),
        };
        (usage.BilledPico, usage.BilledTokens) = (spend, row.PromptTokens + row.CompletionTokens);
        // the budget is settled once the row is in the database (or retained), off the request's path
        var reservation = usage.Reservation;
        usage.Reservation = null;
        Func<Task>? settle = reservation is null ? null : () => reservation.SettleAsync(usage.BilledPico, usage.BilledTokens);
        ApiException? refuse = null;
        if (writer.Journal is not null && !final && writer.Failing is { } reason)
        {
            // the database is known to be away: the fail mode decides, as when a row's commit fails without a journal
            refuse = Failures?.Failed("database", What, reason, "spend_store_unavailable");
            if (refuse is not null)
            {
                row = Refused(row, refuse, usage);
            }
        }
        try
        {
            await writer.WriteAsync(row, settle);
            if (writer.Journal is null)
            {
                metrics.SpendWrites.Increment("ok"); // journaled rows are counted by the writer: ok once committed, retained while the database is away
            }
            Count(row, key?.Team);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            refuse ??= Failures?.Failed("database", What, e.Message, "spend_store_unavailable");
            if (refuse is not null && !final)
            {
                row = Refused(row, refuse, usage);
            }
            Count(row, key?.Team);
            if (writer.Retain(row))
            {
                metrics.SpendWrites.Increment("retained");
                LogRowRetained(log, row.RequestId, row.Model, row.KeyId ?? "-", row.PromptTokens, row.CompletionTokens, e.Message);
            }
            else
            {
                metrics.SpendWrites.Increment("failed");
                LogRowLost(log, row.RequestId, row.Model, row.KeyId ?? "-", row.PromptTokens, row.CompletionTokens, SpendWriter.MaxBacklog, e.Message);
            }
            if (settle is not null)
            {
                await settle();
            }
        }
        if (refuse is not null && !final)
        {
            throw refuse;
        }
    }

    /// <summary>The row of a request answered with the fail mode's 503: that status, and no tokens for an answer the client never got (not streamed).</summary>
    private static UsageRecord Refused(UsageRecord row, ApiException refuse, RequestUsage usage)
    {
        row = row with { Status = refuse.Status };
        if (!usage.Streamed)
        {
            row = row with { PromptTokens = 0, CompletionTokens = 0, SpendPico = 0 };
            (usage.BilledPico, usage.BilledTokens) = (0, 0);
        }
        return row;
    }

    /// <summary>The row's tokens and spend in the metrics (what it bills, so the metrics and the spend log agree).</summary>
    private void Count(UsageRecord row, string? team)
    {
        metrics.Tokens.Add(row.PromptTokens, row.Model, team ?? "", "prompt");
        metrics.Tokens.Add(row.CompletionTokens, row.Model, team ?? "", "completion");
        metrics.AddSpend(row.Model, team ?? "", row.SpendPico);
    }

    [LoggerMessage(EventId = 502, Level = LogLevel.Warning,
        Message = "Request {RequestId} ({Model}, key {KeyId}): its spend row ({Prompt} prompt, {Completion} completion tokens) could not be written ({Failure}); kept in memory until the database is back")]
    private static partial void LogRowRetained(ILogger log, string requestId, string model, string keyId, long prompt, long completion, string failure);

    [LoggerMessage(EventId = 506, Level = LogLevel.Critical,
        Message = "Request {RequestId} ({Model}, key {KeyId}): its spend row ({Prompt} prompt, {Completion} completion tokens) is lost: the database is failing ({Failure}) and {Max} rows are already kept in memory")]
    private static partial void LogRowLost(ILogger log, string requestId, string model, string keyId, long prompt, long completion, int max, string failure);
}
