using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Sluice.Gateway.Tests.Support;

/// <summary>
/// An OpenAI-compatible backend that misbehaves on purpose, the fault chosen by the model name in the body:
/// <c>ok</c>, <c>500-once</c> (500 on a request id's first attempt, then an answer), <c>503</c>, <c>429-retry-after</c>
/// (429 with Retry-After: 30), <c>delay-N</c> (an answer after N ms), <c>reset</c> (the connection dropped before any header), <c>silent</c> (no answer at all),
/// <c>policy-400</c> (a content-policy rejection). Every attempt is logged with its model, request id and time.
/// </summary>
public sealed class FaultyBackend : IAsyncDisposable
{
    public sealed record Attempt(string Model, string RequestId, DateTimeOffset Time);

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Attempt> _attempts = new();
    private readonly ConcurrentDictionary<string, int> _seen = new();

    private FaultyBackend(WebApplication app)
    {
        _app = app;
    }

    public Uri Url => new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public IReadOnlyList<Attempt> Attempts => [.. _attempts];

    public static async Task<FaultyBackend> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var backend = new FaultyBackend(app);
        app.MapGet("/health", () => Results.Text("ok"));
        app.MapPost("/v1/completions", backend.HandleAsync);
        app.MapPost("/v1/chat/completions", backend.HandleAsync);
        await app.StartAsync();
        return backend;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var doc = await JsonDocument.ParseAsync(context.Request.Body);
        string model = doc.RootElement.GetProperty("model").GetString()!;
        string id = context.Request.Headers["X-Request-Id"].ToString();
        _attempts.Enqueue(new Attempt(model, id, DateTimeOffset.UtcNow));
        context.Response.Headers["X-Request-Id"] = id;
        switch (model)
        {
            case "500-once" when _seen.AddOrUpdate(id, 1, (_, n) => n + 1) == 1:
                await ErrorAsync(context, 500, "internal error", "internal_error");
                return;
            case "503":
                await ErrorAsync(context, 503, "overloaded", "service_unavailable");
                return;
            case "429-retry-after":
                context.Response.Headers.RetryAfter = "30";
                await ErrorAsync(context, 429, "slow down", "rate_limit_exceeded");
                return;
            case "reset":
                context.Abort();
                return;
            case "silent":
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
                return;
            case var delayed when delayed.StartsWith("delay-", StringComparison.Ordinal):
                // an equal replica: a fixed time per answer that costs no CPU, whatever else the machine runs
                await Task.Delay(int.Parse(delayed["delay-".Length..], System.Globalization.CultureInfo.InvariantCulture), context.RequestAborted);
                goto default;
            case "policy-400":
                await ErrorAsync(context, 400, "The prompt was rejected by the content policy: violence.", "content_policy_violation");
                return;
            default:
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync($$$"""{"id": "cmpl-{{{id}}}", "object": "text_completion", "model": "{{{model}}}", "choices": [{"index": 0, "text": "fine", "finish_reason": "stop"}], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}""");
                return;
        }
    }

    private static async Task ErrorAsync(HttpContext context, int status, string message, string code)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync($$$"""{"error": {"message": "{{{message}}}", "type": "error", "param": null, "code": "{{{code}}}"}}""");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
