using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Sluice.Gateway.Caching;
using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Rollouts;
using Sluice.Gateway.Routing;
using Sluice.Hosting.Diagnostics;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Management;

/// <summary>
/// The admin API, behind the master key (<c>Authorization: Bearer MASTER</c>; with no master key configured it is
/// refused): traffic, promote, rollback, history, backends, reset, and the process's heap dump and CPU trace
/// (/debug/heap, /debug/trace, as on the server: <see cref="ProcessDiagnostics"/>). Every change is recorded with the key's id
/// (<see cref="KeyId"/>: a hash prefix, never the key).
/// </summary>
internal sealed class AdminEndpoints(Router router, CanaryController canary, ResponseCache cache, GatewayOptions options)
{
    public void Map(WebApplication app)
    {
        var diagnostics = new ProcessDiagnostics(options.Diagnostics);
        app.MapGet("/debug/heap", (HttpContext c) => Authorized(c, diagnostics.HeapAsync));
        app.MapGet("/debug/trace", (HttpContext c) => Authorized(c, diagnostics.TraceAsync));
        app.MapGet("/admin/models/{name}/traffic", (HttpContext c, string name) => Run(c, _ => Task.FromResult<object>(View(name, router.SplitOf(name))), JsonContext.Default.TrafficView));
        app.MapPut("/admin/models/{name}/traffic", (HttpContext c, string name) => Run(c, async actor =>
        {
            var update = await ReadAsync(c, JsonContext.Default.TrafficUpdate);
            var traffic = update?.Traffic ?? throw ApiException.BadRequest("'traffic' is required: percent per version", "traffic");
            return View(name, router.SetTraffic(name, traffic, actor));
        }, JsonContext.Default.TrafficView));
        app.MapPost("/admin/models/{name}/promote", (HttpContext c, string name) => Run(c, async actor =>
        {
            var body = c.Request.ContentLength is > 0 ? await ReadAsync(c, JsonContext.Default.PromoteBody) : null;
            return View(name, router.Promote(name, body?.Version, actor));
        }, JsonContext.Default.TrafficView));
        app.MapPost("/admin/models/{name}/rollback", (HttpContext c, string name) =>
            Run(c, actor => Task.FromResult<object>(View(name, router.Rollback(name, actor))), JsonContext.Default.TrafficView));
        app.MapGet("/admin/models/{name}/canary", (HttpContext c, string name) =>
            Run(c, _ => Task.FromResult<object>(View(canary.Get(name))), JsonContext.Default.CanaryView));
        app.MapPost("/admin/models/{name}/canary/start", (HttpContext c, string name) =>
            Run(c, actor => Task.FromResult<object>(View(canary.Start(name, actor))), JsonContext.Default.CanaryView));
        app.MapPost("/admin/models/{name}/canary/abort", (HttpContext c, string name) =>
            Run(c, actor => Task.FromResult<object>(View(canary.Abort(name, actor))), JsonContext.Default.CanaryView));
        app.MapPost("/admin/models/{name}/canary/resume", (HttpContext c, string name) =>
            Run(c, actor => Task.FromResult<object>(View(canary.Resume(name, actor))), JsonContext.Default.CanaryView));
        app.MapGet("/admin/history", (HttpContext c, CancellationToken _) => Run(c, _ => Task.FromResult<object>(new HistoryView(router.History.All())), JsonContext.Default.HistoryView));
        app.MapGet("/admin/backends", (HttpContext c, CancellationToken _) => Run(c, _ => Task.FromResult<object>(Backends()), JsonContext.Default.BackendsView));
        app.MapPost("/admin/cache/flush", (HttpContext c) => Run(c, FlushCacheAsync, JsonContext.Default.CacheFlushView));
        app.MapPost("/admin/backends/{id}/reset", (HttpContext c, string id) => Run(c, actor =>
        {
            if (!router.Backends.TryGet(Uri.UnescapeDataString(id), out var backend))
            {
                throw new ApiException(404, $"No backend '{id}' (GET /admin/backends lists them).", "invalid_request_error", "backend_not_found", null);
            }
            backend.Reset();
            router.History.Add(new ChangeRecord(options.Hosting.Time.GetUtcNow(), "api", actor, null, "backend reset", backend.Id, null, null));
            return Task.FromResult<object>(Backends());
        }, JsonContext.Default.BackendsView));
    }

    /// <summary>POST /admin/cache/flush: empties the response cache (this process's memory, or the Redis namespace every
    /// replica shares); 404 when no cache is configured, 503 when Redis cannot be reached.</summary>
    private async Task<object> FlushCacheAsync(string actor)
    {
        if (!cache.Enabled)
        {
            throw new ApiException(404, "No response cache is configured: there is nothing to flush (add a cache: section to the gateway's config, docs/gateway.md).",
                "invalid_request_error", "cache_not_configured", null);
        }
        long flushed;
        try
        {
            flushed = await cache.FlushAsync();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ApiException(503, $"The response cache's {cache.Store!.Name} store could not be flushed: {e.Message}", "server_error", "cache_unavailable", null)
            { RetryAfterSeconds = 1 };
        }
        router.History.Add(new ChangeRecord(options.Hosting.Time.GetUtcNow(), "api", actor, null, "cache flushed", $"{flushed} entries ({cache.Store!.Name})", null, null));
        return new CacheFlushView(cache.Store.Name, flushed);
    }

    /// <summary>A key's id for logs and history: "key:" and the first 12 hex digits of its SHA-256.</summary>
    public static string KeyId(string key) => "key:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..12];

    private async Task Run<T>(HttpContext context, Func<string, Task<object>> action, JsonTypeInfo<T> type)
    {
        string actor = Authorize(context, options);
        var result = (T)await action(actor);
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(result, type));
    }

    private Task Authorized(HttpContext context, RequestDelegate route)
    {
        Authorize(context, options);
        return route(context);
    }

    /// <summary>The master key's id when the request carries it; else the 403 (the admin API is off without a master key).</summary>
    internal static string Authorize(HttpContext context, GatewayOptions options)
    {
        if (options.MasterKey is not { } master)
        {
            throw new ApiException(403, "The admin API is off: start the gateway with --master-key.", "permission_error", "admin_disabled", null);
        }
        string? header = context.Request.Headers.Authorization;
        string presented = header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : "";
        if (!GatewayKeyStore.IsMaster(presented, master))
        {
            throw new ApiException(403, "The admin API needs the master key.", "permission_error", "master_key_required", null);
        }
        return KeyId(master);
    }

    private static async Task<T?> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> type)
    {
        try
        {
            return await JsonSerializer.DeserializeAsync(context.Request.Body, type, context.RequestAborted);
        }
        catch (JsonException ex)
        {
            throw ApiException.BadRequest($"The body is not valid JSON for this route: {ex.Message}");
        }
    }

    private static TrafficView View(string model, TrafficSplit split) => new(model, split.Percent, split.Stable, split.Previous);

    private static CanaryView View(CanarySnapshot c) => new(c.Model, c.Version, c.Stable, CanaryController.Name(c.State), c.Step, c.Steps, c.Weight,
        c.FailedChecks, c.FailureLimit, c.Reason, c.StepStarted, [.. c.Evaluations.Select(e => new GateEvaluationView(e.Time, e.Step, e.Gate, e.Result, e.Reason))]);

    private BackendsView Backends() => new([.. router.Backends.All.Select(b => new BackendView(b.Id, b.Url.ToString(), b.Ready, b.Breaker.State.ToString().ToLowerInvariant(),
        b.InFlight, b.Requests, b.Failures, [.. b.RecentErrors().Select(e => new BackendErrorView(e.Time, e.Message))]))]);
}
