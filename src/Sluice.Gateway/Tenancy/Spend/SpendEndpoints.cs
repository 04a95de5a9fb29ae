using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Management;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// Spend queries, behind the master key: <c>GET /admin/spend?group_by=key|team|model|day&amp;from=&amp;to=</c> (sums), and
/// LiteLLM's <c>GET /spend/logs</c> (rows by <c>request_id</c> and/or <c>api_key</c> — the key id, never a secret — with
/// LiteLLM's field names). Money is given exactly, as decimal JSON numbers. With spend off both answer 409 saying so.
/// </summary>
internal sealed class SpendEndpoints(GatewayOptions options, SpendService spend)
{
    private const int MaxRows = 1000;

    public void Map(WebApplication app)
    {
        app.MapGet("/admin/spend", SumAsync);
        app.MapGet("/spend/logs", LogsAsync);
    }

    private async Task SumAsync(HttpContext context)
    {
        AdminEndpoints.Authorize(context, options);
        var store = Store();
        var query = context.Request.Query;
        string groupBy = query["group_by"].ToString() is { Length: > 0 } g ? g : "model";
        var grouping = groupBy switch
        {
            "key" => SpendGrouping.Key,
            "team" => SpendGrouping.Team,
            "model" => SpendGrouping.Model,
            "day" => SpendGrouping.Day,
            _ => throw ApiException.BadRequest($"'group_by' must be key, team, model or day, not '{groupBy}'.", "group_by"),
        };
        var from = Time(query["from"], "from");
        var to = Time(query["to"], "to");
        await spend.FlushAsync();
        var groups = await store.SumAsync(grouping, from, to, context.RequestAborted);
        var list = new JsonArray();
        foreach (var group in groups)
        {
            list.Add(new JsonObject
            {
                [groupBy] = group.Group,
                ["requests"] = group.Requests,
                ["prompt_tokens"] = group.PromptTokens,
                ["completion_tokens"] = group.CompletionTokens,
                ["total_tokens"] = group.PromptTokens + group.CompletionTokens,
                ["spend"] = Price.ToMoney(group.SpendPico),
            });
        }
        await WriteAsync(context, new JsonObject
        {
            ["group_by"] = groupBy,
            ["from"] = from?.ToString("O", CultureInfo.InvariantCulture),
            ["to"] = to?.ToString("O", CultureInfo.InvariantCulture),
            ["groups"] = list,
        });
    }

    private async Task LogsAsync(HttpContext context)
    {
        AdminEndpoints.Authorize(context, options);
        var store = Store();
        var query = context.Request.Query;
        string? requestId = query["request_id"].ToString() is { Length: > 0 } r ? r : null;
        string? keyId = query["api_key"].ToString() is { Length: > 0 } k ? k : null;
        await spend.FlushAsync();
        var rows = await store.LogsAsync(requestId, keyId, Time(query["start_date"], "start_date"), Time(query["end_date"], "end_date"), MaxRows, context.RequestAborted);
        var list = new JsonArray();
        foreach (var row in rows)
        {
            list.Add(new JsonObject
            {
                ["request_id"] = row.RequestId,
                ["api_key"] = row.KeyId,
                ["model"] = row.Model,
                ["spend"] = row.Spend,
                ["prompt_tokens"] = row.PromptTokens,
                ["completion_tokens"] = row.CompletionTokens,
                ["total_tokens"] = row.PromptTokens + row.CompletionTokens,
                ["startTime"] = row.Start.ToString("O", CultureInfo.InvariantCulture),
                ["endTime"] = row.End.ToString("O", CultureInfo.InvariantCulture),
                ["team_id"] = row.Team,
                ["user"] = row.User,
                ["model_id"] = row.Backend,
                ["model_version"] = row.Version,
                ["stream"] = row.Streamed,
                ["cancelled"] = row.Cancelled,
                ["cache_hit"] = row.Cached,
                ["tokens_counted"] = row.Counted,
                ["status"] = row.Status,
            });
        }
        await WriteAsync(context, list);
    }

    private SpendStore Store() => spend.Store ?? throw new ApiException(409,
        "Spend is not recorded by this gateway: add a tenancy: section (tenancy.spend.enabled true) to its config.", "invalid_request_error", "spend_disabled", null);

    private static DateTimeOffset? Time(string? text, string field)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            ? time
            : throw ApiException.BadRequest($"'{field}' must be a date or time (2026-12-06 or 2026-12-06T20:00:00Z), not '{text}'.", field);
    }

    private static async Task WriteAsync(HttpContext context, JsonNode node)
    {
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(node, JsonContext.Default.JsonNode), context.RequestAborted);
    }
}
