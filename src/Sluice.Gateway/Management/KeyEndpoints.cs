using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Sluice.Gateway.Tenancy;
using Sluice.Gateway.Tenancy.Keys;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Management;

/// <summary>
/// The virtual-key admin API, behind the master key: /admin/keys (create, list, show, update, delete, rotate, revoke,
/// block, unblock) and LiteLLM's /key/generate, /key/info, /key/update, /key/delete, /key/regenerate, /key/block,
/// /key/unblock with its field names (<see cref="KeyRequest"/>).
/// A secret appears in one answer only: the one that created or rotated it. Every write is announced to the other
/// replicas (<see cref="KeyChangeListener"/>).
/// </summary>
internal sealed class KeyEndpoints(GatewayOptions options, TimeProvider time)
{
    /// <summary>Paths the admin API answers, which key authentication leaves to it (they need the master key).</summary>
    public static bool IsAdminPath(string path) =>
        path.StartsWith("/admin/", StringComparison.OrdinalIgnoreCase) || path.StartsWith("/key/", StringComparison.OrdinalIgnoreCase)
        || path.StartsWith("/spend/", StringComparison.OrdinalIgnoreCase) || path.StartsWith("/team/", StringComparison.OrdinalIgnoreCase);

    private static readonly string[] RotateFields = ["grace_period"];
    private static readonly string[] RegenerateFields = ["key", "grace_period", .. KeyRequest.Fields];
    private static readonly string[] BlockFields = ["key"];
    private static readonly string[] UpdateFields = ["key", "blocked", .. KeyRequest.Fields];
    private static readonly string[] PatchFields = ["blocked", .. KeyRequest.Fields];
    private static readonly string[] DeleteFields = ["keys", "key_aliases"];

    public void Map(WebApplication app)
    {
        app.MapPost("/admin/keys", c => Run(c, CreateAsync));
        app.MapGet("/admin/keys", c => Run(c, async (ctx, store) =>
        {
            var list = new JsonArray();
            foreach (var stored in await store.ListAsync(ctx.RequestAborted))
            {
                list.Add(await ViewAsync(ctx, stored, null));
            }
            return new JsonObject { ["keys"] = list };
        }));
        app.MapGet("/admin/keys/{id}", (HttpContext c, string id) => Run(c, async (ctx, store) => await ViewAsync(ctx, await FindAsync(store, id, ctx), null)));
        app.MapMethods("/admin/keys/{id}", ["PATCH"], (HttpContext c, string id) => Run(c, async (ctx, store) =>
        {
            var request = await KeyRequest.ReadAsync(ctx.Request.Body, PatchFields, ctx.RequestAborted);
            return await UpdateAsync(ctx, store, id, request);
        }));
        app.MapDelete("/admin/keys/{id}", (HttpContext c, string id) => Run(c, async (ctx, store) =>
        {
            var stored = await FindAsync(store, id, ctx);
            await store.DeleteAsync(stored.Key.Id, ctx.RequestAborted);
            await Announce(ctx, stored.Key.Id);
            return new JsonObject { ["id"] = stored.Key.Id, ["deleted"] = true };
        }));
        app.MapPost("/admin/keys/{id}/rotate", (HttpContext c, string id) => Run(c, (ctx, store) => RotateAsync(ctx, store, id)));
        app.MapPost("/admin/keys/{id}/revoke", (HttpContext c, string id) => Run(c, async (ctx, store) =>
        {
            var revoked = await store.RevokeAsync(id, ctx.RequestAborted) ?? throw NotFound(id);
            await Announce(ctx, id);
            return await ViewAsync(ctx, revoked, null);
        }));

        app.MapPost("/admin/keys/{id}/block", (HttpContext c, string id) => Run(c, (ctx, store) => BlockAsync(ctx, store, id, true)));
        app.MapPost("/admin/keys/{id}/unblock", (HttpContext c, string id) => Run(c, (ctx, store) => BlockAsync(ctx, store, id, false)));

        // LiteLLM's routes, its field names
        app.MapPost("/key/generate", c => Run(c, CreateAsync));
        app.MapGet("/key/info", c => Run(c, async (ctx, store) =>
        {
            string key = ctx.Request.Query["key"].FirstOrDefault() is { Length: > 0 } k ? k : throw ApiException.BadRequest("key is required: /key/info?key=sk-... (or a key id)", "key");
            var stored = await FindAsync(store, key, ctx);
            return new JsonObject { ["key"] = stored.Key.Id, ["info"] = await ViewAsync(ctx, stored, null) };
        }));
        app.MapPost("/key/update", c => Run(c, async (ctx, store) =>
        {
            var request = await KeyRequest.ReadAsync(ctx.Request.Body, UpdateFields, ctx.RequestAborted);
            string key = request.Text("key") ?? throw ApiException.BadRequest("key is required: the key (sk-...) or its id to update", "key");
            var stored = await FindAsync(store, key, ctx);
            return await UpdateAsync(ctx, store, stored.Key.Id, request);
        }));
        app.MapPost("/key/regenerate", c => Run(c, RegenerateNamedAsync));
        app.MapPost("/key/{key}/regenerate", (HttpContext c, string key) => Run(c, (ctx, store) => RegenerateAsync(ctx, store, key)));
        app.MapPost("/key/block", c => Run(c, BlockNamedAsync));
        app.MapPost("/key/unblock", c => Run(c, UnblockNamedAsync));
        app.MapPost("/key/delete", c => Run(c, async (ctx, store) =>
        {
            var request = await KeyRequest.ReadAsync(ctx.Request.Body, DeleteFields, ctx.RequestAborted);
            var keys = request["keys"] as JsonArray ?? throw ApiException.BadRequest("keys is required: a list of keys (sk-...) or key ids", "keys");
            if (request.Has("key_aliases"))
            {
                throw ApiException.BadRequest("key_aliases is not supported: list the keys or their ids in keys", "key_aliases");
            }
            var found = new List<StoredKey>();
            foreach (var (node, i) in keys.Select((n, i) => (n, i)))
            {
                string key = node is JsonValue v && v.TryGetValue(out string? s) ? s : throw ApiException.BadRequest($"keys[{i}] must be a key or a key id", "keys");
                found.Add(await FindAsync(store, key, ctx));
            }
            var deleted = new JsonArray();
            foreach (var stored in found)
            {
                await store.DeleteAsync(stored.Key.Id, ctx.RequestAborted);
                await Announce(ctx, stored.Key.Id);
                deleted.Add(stored.Key.Id);
            }
            return new JsonObject { ["deleted_keys"] = deleted };
        }));
    }

    private async Task<JsonObject> CreateAsync(HttpContext context, KeyStore store)
    {
        var request = await KeyRequest.ReadAsync(context.Request.Body, KeyRequest.Fields, context.RequestAborted);
        var template = request.Apply(new VirtualKey { Id = "" }, time.GetUtcNow());
        var issued = await store.CreateAsync(template, context.RequestAborted);
        await Announce(context, issued.Stored.Key.Id); // a secret once presented as unknown may sit in a cache
        context.Response.StatusCode = StatusCodes.Status200OK;
        return await ViewAsync(context, issued.Stored, issued.Secret);
    }

    private async Task<JsonObject> UpdateAsync(HttpContext context, KeyStore store, string id, KeyRequest request)
    {
        var now = time.GetUtcNow();
        bool? blocked = request.Has("blocked") ? request.Flag("blocked") : null; // LiteLLM's /key/update field; checked before anything is written
        var updated = await store.UpdateAsync(id, key => request.Apply(key, now), context.RequestAborted) ?? throw NotFound(id);
        if (blocked is { } block)
        {
            updated = await store.BlockAsync(id, block, context.RequestAborted) ?? throw NotFound(id);
        }
        await Announce(context, id);
        return await ViewAsync(context, updated, null);
    }

    private async Task<JsonObject> RotateAsync(HttpContext context, KeyStore store, string id)
    {
        var grace = TimeSpan.Zero;
        if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            var request = await KeyRequest.ReadAsync(context.Request.Body, RotateFields, context.RequestAborted);
            grace = request.Text("grace_period") is { } g ? KeyRequest.Duration(g, "grace_period") : TimeSpan.Zero;
        }
        return await RotateAsync(context, store, id, grace);
    }

    private static async Task<JsonObject> RotateAsync(HttpContext context, KeyStore store, string id, TimeSpan grace)
    {
        IssuedKey issued;
        try
        {
            issued = await store.RotateAsync(id, grace, context.RequestAborted) ?? throw NotFound(id);
        }
        catch (InvalidOperationException e)
        {
            throw new ApiException(409, $"Cannot rotate: {e.Message}.", "invalid_request_error", "key_revoked", null);
        }
        await Announce(context, id);
        return await ViewAsync(context, issued.Stored, issued.Secret);
    }

    /// <summary>
    /// LiteLLM's /key/regenerate (the key in the body) and /key/{key}/regenerate: a new secret for the same key id, as
    /// rotate; <c>grace_period</c> keeps the old secret working that long (default: it stops at once); the key fields
    /// (LiteLLM lets a regeneration change them) are applied first, as /key/update would.
    /// </summary>
    private async Task<JsonObject> RegenerateAsync(HttpContext context, KeyStore store, string? inPath)
    {
        var request = await KeyRequest.ReadAsync(context.Request.Body, RegenerateFields, context.RequestAborted);
        if (inPath is not null && request.Has("key") && request.Text("key") != inPath)
        {
            throw ApiException.BadRequest("key is given both in the path and in the body, and they differ: give it once.", "key");
        }
        string key = inPath ?? request.Text("key") ?? throw ApiException.BadRequest("key is required: the key (sk-...) or its id to regenerate", "key");
        var stored = await FindAsync(store, key, context);
        var grace = request.Text("grace_period") is { } g ? KeyRequest.Duration(g, "grace_period") : TimeSpan.Zero;
        if (KeyRequest.Fields.Any(request.Has))
        {
            var now = time.GetUtcNow();
            await store.UpdateAsync(stored.Key.Id, k => request.Apply(k, now), context.RequestAborted);
        }
        return await RotateAsync(context, store, stored.Key.Id, grace);
    }

    /// <summary>Blocks or unblocks a key; announced, so every replica refuses (or serves) it within a second.</summary>
    private static async Task<JsonObject> BlockAsync(HttpContext context, KeyStore store, string id, bool blocked)
    {
        var changed = await store.BlockAsync(id, blocked, context.RequestAborted) ?? throw NotFound(id);
        await Announce(context, id);
        return await ViewAsync(context, changed, null);
    }

    private Task<JsonObject> RegenerateNamedAsync(HttpContext context, KeyStore store) => RegenerateAsync(context, store, null);

    private static Task<JsonObject> BlockNamedAsync(HttpContext context, KeyStore store) => BlockNamedAsync(context, store, true);

    private static Task<JsonObject> UnblockNamedAsync(HttpContext context, KeyStore store) => BlockNamedAsync(context, store, false);

    /// <summary>LiteLLM's /key/block and /key/unblock: the key named by a {"key": "sk-... or id"} body.</summary>
    private static async Task<JsonObject> BlockNamedAsync(HttpContext context, KeyStore store, bool blocked)
    {
        var request = await KeyRequest.ReadAsync(context.Request.Body, BlockFields, context.RequestAborted);
        string key = request.Text("key") ?? throw ApiException.BadRequest("key is required: the key (sk-...) or its id", "key");
        return await BlockAsync(context, store, (await FindAsync(store, key, context)).Key.Id, blocked);
    }

    /// <summary>A key as the admin API shows it; <paramref name="secret"/> only when just made.</summary>
    private static async Task<JsonObject> ViewAsync(HttpContext context, StoredKey stored, string? secret)
    {
        var key = stored.Key;
        static string? At(DateTimeOffset? t) => t?.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        var spend = context.RequestServices.GetService<ISpendReader>() ?? new NoSpendReader();
        var view = new JsonObject();
        if (secret is not null)
        {
            view["key"] = secret;
        }
        view["id"] = key.Id;
        view["token"] = key.Id; // LiteLLM's name for the key's stored identity
        view["key_alias"] = key.Alias;
        view["team_id"] = key.Team;
        view["user_id"] = key.Owner;
        view["models"] = new JsonArray([.. key.Models.Select(m => (JsonNode?)JsonValue.Create(m))]);
        view["rpm_limit"] = key.RequestsPerMinute;
        view["tpm_limit"] = key.TokensPerMinute;
        view["max_parallel_requests"] = key.MaxParallelRequests;
        view["max_budget"] = key.MaxBudget;
        view["max_budget_tokens"] = key.MaxBudgetTokens;
        view["budget_duration"] = key.BudgetDuration;
        view["spend"] = await spend.SpendAsync(key, context.RequestAborted);
        view["expires"] = At(key.ExpiresAt);
        view["created_at"] = At(key.CreatedAt);
        view["updated_at"] = At(stored.UpdatedAt);
        view["revoked_at"] = At(stored.RevokedAt);
        view["blocked"] = stored.BlockedAt is not null; // LiteLLM's field
        view["blocked_at"] = At(stored.BlockedAt);
        view["previous_key_valid_until"] = At(stored.PreviousSecretUntil);
        view["metadata"] = new JsonObject(key.Metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value))));
        return view;
    }

    /// <summary>A key by id (key_...) or by secret (sk-...); 404 naming it (a secret is not echoed).</summary>
    private static async Task<StoredKey> FindAsync(KeyStore store, string idOrSecret, HttpContext context)
    {
        if (idOrSecret.StartsWith(KeySecrets.Prefix, StringComparison.Ordinal))
        {
            return (await store.FindByHashAsync(KeySecrets.Hash(idOrSecret), context.RequestAborted))?.Stored
                ?? throw new ApiException(404, "No key has this secret.", "invalid_request_error", "key_not_found", null, "key");
        }
        return await store.GetAsync(idOrSecret, context.RequestAborted) ?? throw NotFound(idOrSecret);
    }

    private static ApiException NotFound(string id) =>
        new(404, $"No key '{id}' (GET /admin/keys lists them).", "invalid_request_error", "key_not_found", null);

    private static Task Announce(HttpContext context, string id) =>
        context.RequestServices.GetRequiredService<KeyChangeListener>().AnnounceAsync(id);

    private async Task Run(HttpContext context, Func<HttpContext, KeyStore, Task<JsonObject>> action)
    {
        AdminEndpoints.Authorize(context, options);
        var store = context.RequestServices.GetService<KeyStore>()
            ?? throw new ApiException(404, "Virtual keys are off: add a `tenancy:` section to the gateway config (docs/tenancy.md).", "invalid_request_error", "tenancy_disabled", null);
        JsonObject result;
        try
        {
            result = await action(context, store);
        }
        catch (Tenancy.Storage.TenancyStoreException e)
        {
            throw new ApiException(503, $"The key store is unreachable: {e.Message}", "server_error", "key_store_unavailable", AdmissionRejection.NotReady) { RetryAfterSeconds = 1 };
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(result.ToJsonString());
    }
}
