using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Sluice.Gateway.Tenancy.Keys;
using Sluice.Gateway.Tenancy.Spend;
using Sluice.Gateway.Tenancy.Teams;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Management;

/// <summary>
/// The team admin API, behind the master key, with LiteLLM's routes and field names: /team/new, /team/info,
/// /team/update, /team/delete, /team/list, /team/block, /team/unblock. Fields: team_id (optional on create),
/// team_alias, models, max_budget, budget_duration, tpm_limit, rpm_limit, max_parallel_requests, blocked, metadata; an
/// unknown field is a 400 naming it. Every write is announced as key writes are, so every replica sees it within a second.
/// </summary>
internal sealed class TeamEndpoints(GatewayOptions options, TimeProvider time)
{
    public static readonly string[] Fields =
        ["team_id", "team_alias", "models", "max_budget", "budget_duration", "tpm_limit", "rpm_limit", "max_parallel_requests", "blocked", "metadata"];

    private static readonly string[] DeleteFields = ["team_ids"];
    private static readonly string[] BlockFields = ["team_id"];

    public void Map(WebApplication app)
    {
        app.MapPost("/team/new", c => Run(c, CreateAsync));
        app.MapGet("/team/info", c => Run(c, async (ctx, store) =>
        {
            string id = ctx.Request.Query["team_id"].FirstOrDefault() is { Length: > 0 } t ? t
                : throw ApiException.BadRequest("team_id is required: /team/info?team_id=...", "team_id");
            var team = await FindAsync(store, id, ctx);
            var keys = new JsonArray([.. (await store.KeyIdsAsync(team.Id, ctx.RequestAborted)).Select(k => (JsonNode?)new JsonObject { ["token"] = k })]);
            return new JsonObject { ["team_id"] = team.Id, ["team_info"] = await ViewAsync(ctx, team), ["keys"] = keys };
        }));
        app.MapGet("/team/list", c => Run(c, async (ctx, store) =>
        {
            var list = new JsonArray();
            foreach (var team in await store.ListAsync(ctx.RequestAborted))
            {
                list.Add(await ViewAsync(ctx, team));
            }
            return list;
        }));
        app.MapPost("/team/update", c => Run(c, async (ctx, store) =>
        {
            var request = await KeyRequest.ReadAsync(ctx.Request.Body, Fields, ctx.RequestAborted);
            string id = request.Text("team_id") ?? throw ApiException.BadRequest("team_id is required: the team to update", "team_id");
            var change = Changes(request, time.GetUtcNow());
            var updated = await store.UpdateAsync(id, change, ctx.RequestAborted) ?? throw NotFound(id);
            await Announce(ctx, id);
            return new JsonObject { ["team_id"] = updated.Id, ["data"] = await ViewAsync(ctx, updated) };
        }));
        app.MapPost("/team/delete", c => Run(c, async (ctx, store) =>
        {
            var request = await KeyRequest.ReadAsync(ctx.Request.Body, DeleteFields, ctx.RequestAborted);
            var ids = request["team_ids"] is JsonArray { Count: > 0 } list
                ? list.Select((n, i) => n is JsonValue v && v.TryGetValue(out string? s) && s.Length > 0 ? s
                    : throw ApiException.BadRequest($"team_ids[{i}] must be a team id", "team_ids")).ToList()
                : throw ApiException.BadRequest("team_ids is required: a list of team ids", "team_ids");
            foreach (string id in ids)
            {
                await FindAsync(store, id, ctx);
                if (await store.KeyIdsAsync(id, ctx.RequestAborted) is { Count: > 0 } keys)
                {
                    throw new ApiException(409, $"Team {id} still has keys ({string.Join(", ", keys)}): delete them or move them to another team_id first (nothing was deleted).",
                        "invalid_request_error", "team_has_keys", null, "team_ids");
                }
            }
            var deleted = new JsonArray();
            foreach (string id in ids)
            {
                await store.DeleteAsync(id, ctx.RequestAborted);
                await Announce(ctx, id);
                deleted.Add(id);
            }
            return new JsonObject { ["deleted_teams"] = deleted };
        }));
        app.MapPost("/team/block", c => Run(c, BlockAsync));
        app.MapPost("/team/unblock", c => Run(c, UnblockAsync));
    }

    private async Task<JsonNode> CreateAsync(HttpContext context, TeamStore store)
    {
        var now = time.GetUtcNow();
        var request = await KeyRequest.ReadAsync(context.Request.Body, Fields, context.RequestAborted);
        string id = request.Text("team_id") ?? Guid.NewGuid().ToString("D");
        if (id.Length > 128 || id.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw ApiException.BadRequest("team_id must be at most 128 characters, without spaces or control characters.", "team_id");
        }
        var team = Changes(request, now)(new Team { Id = id });
        var created = await store.CreateAsync(team, context.RequestAborted)
            ?? throw new ApiException(400, $"Team id = {id} already exists; use another team_id, or /team/update to change it.", "invalid_request_error", "team_exists", null, "team_id");
        await Announce(context, id); // keys naming this team_id may sit in caches without it
        return await ViewAsync(context, created);
    }

    /// <summary>The fields given, checked now (a 400 names the first bad one), applied to a team by the store.</summary>
    private static Func<Team, Team> Changes(KeyRequest request, DateTimeOffset now)
    {
        var set = new List<Func<Team, Team>>();
        if (request.Has("team_alias")) { string? v = request.Text("team_alias"); set.Add(t => t with { Alias = v }); }
        if (request.Has("models")) { var v = request.Models(); set.Add(t => t with { Models = v }); }
        if (request.Has("max_budget")) { var v = request.Budget(); set.Add(t => t with { MaxBudget = v }); }
        if (request.Has("budget_duration")) { string? v = request.BudgetDuration(); set.Add(t => t with { BudgetDuration = v }); }
        if (request.Has("tpm_limit")) { long? v = request.Whole("tpm_limit", 1); set.Add(t => t with { TokensPerMinute = v }); }
        if (request.Has("rpm_limit")) { long? v = request.Whole("rpm_limit", 1); set.Add(t => t with { RequestsPerMinute = v }); }
        if (request.Has("max_parallel_requests")) { long? v = request.Whole("max_parallel_requests", 1); set.Add(t => t with { MaxParallelRequests = v }); }
        if (request.Has("metadata")) { var v = request.Metadata(); set.Add(t => t with { Metadata = v }); }
        if (request.Has("blocked"))
        {
            bool blocked = request.Flag("blocked");
            set.Add(t => t with { BlockedAt = blocked ? t.BlockedAt ?? DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds()) : null });
        }
        return t => set.Aggregate(t, (current, apply) => apply(current));
    }

    private static Task<JsonNode> BlockAsync(HttpContext context, TeamStore store) => BlockAsync(context, store, true);

    private static Task<JsonNode> UnblockAsync(HttpContext context, TeamStore store) => BlockAsync(context, store, false);

    private static async Task<JsonNode> BlockAsync(HttpContext context, TeamStore store, bool blocked)
    {
        var request = await KeyRequest.ReadAsync(context.Request.Body, BlockFields, context.RequestAborted);
        string id = request.Text("team_id") ?? throw ApiException.BadRequest("team_id is required: the team to block or unblock", "team_id");
        var changed = await store.BlockAsync(id, blocked, context.RequestAborted) ?? throw NotFound(id);
        await Announce(context, id);
        return await ViewAsync(context, changed);
    }

    /// <summary>A team as the admin API shows it, with LiteLLM's names; <c>spend</c> is the team's spend in its current budget period.</summary>
    private static async Task<JsonObject> ViewAsync(HttpContext context, Team team)
    {
        static string? At(DateTimeOffset? t) => t?.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        var guard = context.RequestServices.GetRequiredService<TeamBudgetGuard>();
        var period = BudgetPeriod.Current(team.BudgetDuration, team.CreatedAt, context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow());
        return new JsonObject
        {
            ["team_id"] = team.Id,
            ["team_alias"] = team.Alias,
            ["models"] = new JsonArray([.. team.Models.Select(m => (JsonNode?)JsonValue.Create(m))]),
            ["max_budget"] = team.MaxBudget,
            ["spend"] = await guard.SpendAsync(team, context.RequestAborted),
            ["budget_duration"] = team.BudgetDuration,
            ["budget_reset_at"] = At(period.End),
            ["tpm_limit"] = team.TokensPerMinute,
            ["rpm_limit"] = team.RequestsPerMinute,
            ["max_parallel_requests"] = team.MaxParallelRequests,
            ["blocked"] = team.BlockedAt is not null,
            ["blocked_at"] = At(team.BlockedAt),
            ["metadata"] = new JsonObject(team.Metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
            ["created_at"] = At(team.CreatedAt),
            ["updated_at"] = At(team.UpdatedAt),
        };
    }

    private static async Task<Team> FindAsync(TeamStore store, string id, HttpContext context) =>
        await store.GetAsync(id, context.RequestAborted) ?? throw NotFound(id);

    private static ApiException NotFound(string id) =>
        new(404, $"No team '{id}' (GET /team/list lists them).", "invalid_request_error", "team_not_found", null, "team_id");

    private static Task Announce(HttpContext context, string id) =>
        context.RequestServices.GetRequiredService<KeyChangeListener>().AnnounceAsync(Team.SubjectPrefix + id);

    private async Task Run(HttpContext context, Func<HttpContext, TeamStore, Task<JsonNode>> action)
    {
        AdminEndpoints.Authorize(context, options);
        var store = context.RequestServices.GetService<TeamStore>()
            ?? throw new ApiException(404, "Teams are off: add a `tenancy:` section to the gateway config (docs/tenancy.md).", "invalid_request_error", "tenancy_disabled", null);
        JsonNode result;
        try
        {
            result = await action(context, store);
        }
        catch (Tenancy.Storage.TenancyStoreException e)
        {
            throw new ApiException(503, $"The team store is unreachable: {e.Message}", "server_error", "key_store_unavailable", AdmissionRejection.NotReady) { RetryAfterSeconds = 1 };
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(result.ToJsonString());
    }
}
