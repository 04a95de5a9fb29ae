using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Sluice.Gateway.Observability;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// Turns a request's <see cref="RequestUsage"/> into its one spend row: the key and team from the request's
/// <see cref="VirtualKey"/>, the cost from the answering deployment's price (pico-units, exact), the metrics, and the
/// durable write (group commit) the caller awaits before its response ends. Off (no writer) when the config has no
/// tenancy or tenancy.spend.enabled is false: usage then only goes to the metrics.
/// A row that cannot be written is logged and counted (sluice_gateway_spend_writes_total{result="failed"}) and the
/// response still completes: recording fails open.
/// </summary>
public sealed partial class UsageRecorder(GatewayMetrics metrics, TimeProvider time, ILogger<UsageRecorder> log)
{
    /// <summary>The group-commit writer, once the store is open (at start); null: spend is not recorded.</summary>
    public SpendWriter? Writer { get; set; }

    public bool Enabled => Writer is not null;

    public RequestUsage Begin(HttpContext context, string requestId)
    {
        var usage = new RequestUsage(requestId, time.GetUtcNow());
        context.Features.Set(usage);
        return usage;
    }

    /// <summary>Records the request's usage once (later calls do nothing) and waits for its row to commit.</summary>
    public async Task RecordAsync(HttpContext context)
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
        string team = key?.Team ?? "";
        metrics.Tokens.Add(row.PromptTokens, row.Model, team, "prompt");
        metrics.Tokens.Add(row.CompletionTokens, row.Model, team, "completion");
        metrics.AddSpend(row.Model, team, spend);
        try
        {
            await writer.WriteAsync(row);
            metrics.SpendWrites.Increment("ok");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            metrics.SpendWrites.Increment("failed");
            LogRowLost(log, row.RequestId, row.Model, row.KeyId ?? "-", row.PromptTokens, row.CompletionTokens, e.Message);
        }
    }

    [LoggerMessage(EventId = 502, Level = LogLevel.Error,
        Message = "Request {RequestId} ({Model}, key {KeyId}): its spend row ({Prompt} prompt, {Completion} completion tokens) could not be written: {Failure}")]
    private static partial void LogRowLost(ILogger log, string requestId, string model, string keyId, long prompt, long completion, string failure);
}
