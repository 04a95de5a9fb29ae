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
/// (429 with Retry-After: 30), <c>429</c> (429 without Retry-After, every time), <c>delay-N</c> (an answer after N ms),
/// <c>reset</c> (the connection dropped before any header), <c>silent</c> (no answer at all), <c>policy-400</c> (a
/// content-policy rejection), <c>ctx-400</c> (a context-length rejection), <c>fail-N</c> (a 503 for N of every 100
/// requests, spread evenly; streams too). Streams (<c>"stream": true</c>) answer the
/// words <c>w1 </c> to <c>w6 </c>, one chunk each, starting after the words the prompt (or a continued final assistant
/// message) already holds, so a continuation is seen to continue (<c>delay-N</c>: the first word after N ms); their faults: <c>late</c> (headers at once, the first
/// token after 30 s), <c>cut</c> (the connection dropped after three words), <c>stall</c> (silent after three words, the
/// connection open), <c>malformed</c> (a broken chunk after two words), <c>no-done</c> (the whole answer, then the
/// connection held open without [DONE]), <c>no-prefill</c> (a 400 for a continued assistant message), <c>cut-early-0</c>
/// (as <c>cut</c>, choice 0 finishing after two words), <c>cut-tool</c> (chat: a tool call's id, name and half its
/// arguments, then the connection dropped), <c>old-sluice</c> (a 400 refusing <c>continued_token_ids</c> and
/// <c>continued_tokens</c> as unknown fields, as a strict server older than them would; else as <c>ok</c>). A stream answers
/// <c>n</c> choices per prompt (a prompt array: each prompt's), their words interleaved, choice index = prompt × n + place.
/// A prompt of token ids reads id k (1 to 6) as the word <c>wk </c>; asked for <c>return_token_ids</c>, each chunk carries
/// its word's id, and POST /tokenize gives one id per word (1000 and up), so a continuation by ids is seen too. <see cref="Down"/>
/// makes every request and readiness check a 503. Every attempt is logged with its model, request id, time and body.
/// </summary>
public sealed class FaultyBackend : IAsyncDisposable
{
    public sealed record Attempt(string Model, string RequestId, DateTimeOffset Time, string Body);

    /// <summary>What its /metrics says (sluice serve's names): requests waiting, KV-cache usage; null: no /metrics (404).</summary>
    public (double Waiting, double KvUsage)? Load { get; set; }

    /// <summary>Down: every completion and readiness check answers 503 (a backend out for a while).</summary>
    public bool Down { get; set; }

    /// <summary>The body of its GET /version (as sluice serve's); null: no /version (404).</summary>
    public string? Version { get; set; }

    /// <summary>The most completion requests it was answering at once.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Attempt> _attempts = new();
    private readonly ConcurrentDictionary<string, int> _seen = new();
    private int _requests;
    private int _inFlight;
    private int _maxInFlight;

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
        app.MapGet("/metrics", () => backend.Load is { } load
            ? Results.Text(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"# TYPE sluice_requests_waiting gauge\nsluice_requests_waiting {load.Waiting}\n# TYPE sluice_kv_cache_usage_ratio gauge\nsluice_kv_cache_usage_ratio {load.KvUsage}\n"))
            : Results.NotFound());
        app.MapGet("/health", () => backend.Down ? Results.StatusCode(503) : Results.Text("ok"));
        app.MapGet("/health/ready", () => backend.Down ? Results.StatusCode(503) : Results.Text("ok")); // as sluice serve's
        app.MapGet("/version", () => backend.Version is { } version ? Results.Text(version, "application/json") : Results.NotFound());
        app.MapPost("/tokenize", async (HttpContext context) =>
        {
            using var doc = JsonDocument.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync());
            string text = doc.RootElement.TryGetProperty("prompt", out var p) ? p.GetString() ?? "" : "chat";
            int words = Math.Max(1, text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
            return Results.Json(new { tokens = Enumerable.Range(1000, words).ToArray(), count = words });
        });
        app.MapPost("/v1/completions", backend.HandleAsync);
        app.MapPost("/v1/chat/completions", backend.HandleAsync);
        await app.StartAsync();
        return backend;
    }

    private async Task HandleAsync(HttpContext context)
    {
        int now = Interlocked.Increment(ref _inFlight);
        for (int max = Volatile.Read(ref _maxInFlight); now > max && Interlocked.CompareExchange(ref _maxInFlight, now, max) != max; max = Volatile.Read(ref _maxInFlight))
        {
        }
        try
        {
            await AnswerAsync(context);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task AnswerAsync(HttpContext context)
    {
        string raw = await new StreamReader(context.Request.Body).ReadToEndAsync();
        using var doc = JsonDocument.Parse(raw);
        string model = doc.RootElement.GetProperty("model").GetString()!;
        string id = context.Request.Headers["X-Request-Id"].ToString();
        _attempts.Enqueue(new Attempt(model, id, DateTimeOffset.UtcNow, raw));
        context.Response.Headers["X-Request-Id"] = id;
        if (Down)
        {
            await ErrorAsync(context, 503, "down", "service_unavailable");
            return;
        }
        if (model.StartsWith("fail-", StringComparison.Ordinal))
        {
            // request k fails when floor(k·N/100) steps up: N of every 100, evenly spread
            int k = Interlocked.Increment(ref _requests);
            int n = int.Parse(model["fail-".Length..], System.Globalization.CultureInfo.InvariantCulture);
            if (k * n / 100 != (k - 1) * n / 100)
            {
                await ErrorAsync(context, 503, "overloaded", "service_unavailable");
                return;
            }
        }
        if (model == "old-sluice" && new[] { "continued_token_ids", "continued_tokens" }.FirstOrDefault(f => doc.RootElement.TryGetProperty(f, out _)) is { } unknown)
        {
            context.Response.StatusCode = 400;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync($$$"""{"error": {"message": "Unknown field: {{{unknown}}}", "type": "invalid_request_error", "param": "{{{unknown}}}", "code": "unknown_field"}}""");
            return;
        }
        if (doc.RootElement.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True)
        {
            await StreamAsync(context, doc.RootElement, model, id);
            return;
        }
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
            case "429":
                await ErrorAsync(context, 429, "rate limited", "rate_limit_exceeded");
                return;
            case "ctx-400":
                await ErrorAsync(context, 400, "This model's maximum context length is 8 tokens, but the prompt has 9 tokens.", "context_length_exceeded");
                return;
            case "policy-400":
                await ErrorAsync(context, 400, "The prompt was rejected by the content policy: violence.", "content_policy_violation");
                return;
            default:
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync($$$"""{"id": "cmpl-{{{id}}}", "object": "text_completion", "model": "{{{model}}}", "choices": [{"index": 0, "text": "fine", "finish_reason": "stop"}], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}""");
                return;
        }
    }

    private static async Task StreamAsync(HttpContext context, JsonElement body, string model, string id)
    {
        bool chat = context.Request.Path.Value!.Contains("chat", StringComparison.Ordinal);
        var prompts = new List<string>();
        bool prefill = false;
        // token ids: id k (1 to 6) is the word wk
        static string Words(JsonElement ids) => string.Concat(ids.EnumerateArray().Select(i => i.GetInt32() is >= 1 and <= 6 and var k ? $"w{k} " : ""));
        if (chat)
        {
            var messages = body.GetProperty("messages");
            var final = messages[messages.GetArrayLength() - 1];
            prefill = body.TryGetProperty("continue_final_message", out var c) && c.ValueKind == JsonValueKind.True && final.GetProperty("role").GetString() == "assistant";
            prompts.Add(prefill ? final.GetProperty("content").GetString()! : "");
        }
        else if (body.GetProperty("prompt") is { ValueKind: JsonValueKind.Array } array)
        {
            if (array.GetArrayLength() > 0 && array[0].ValueKind == JsonValueKind.Number)
            {
                prompts.Add(Words(array));
            }
            else
            {
                prompts.AddRange(array.EnumerateArray().Select(p => p.ValueKind == JsonValueKind.Array ? Words(p) : p.GetString()!));
            }
        }
        else
        {
            prompts.Add(body.GetProperty("prompt").GetString()!);
        }
        if (body.TryGetProperty("continued_token_ids", out var continued))
        {
            prompts[0] += Words(continued); // as sluice serve: the answer so far follows the prompt
        }
        switch (model)
        {
            case "ctx-400":
                await ErrorAsync(context, 400, "This model's maximum context length is 8 tokens, but the prompt has 9 tokens.", "context_length_exceeded");
                return;
            case "no-prefill" when prefill:
                await ErrorAsync(context, 400, "continuing a final assistant message (prefill) is not supported", "invalid_request_error");
                return;
            case "429":
                await ErrorAsync(context, 429, "rate limited", "rate_limit_exceeded");
                return;
            case "503":
                await ErrorAsync(context, 503, "overloaded", "service_unavailable");
                return;
        }
        int n = body.TryGetProperty("n", out var nn) ? nn.GetInt32() : 1;
        int max = body.TryGetProperty("max_tokens", out var m) ? m.GetInt32() : body.TryGetProperty("max_completion_tokens", out var mc) ? mc.GetInt32() : 6;
        // choice index = prompt × n + place, as OpenAI and sluice serve number them; each continues after its prompt's words
        var already = prompts.Select(p => System.Text.RegularExpressions.Regex.Count(p, @"w\d+ ")).ToList();
        int choices = prompts.Count * n;
        int Already(int choice) => already[choice / n];
        int Last(int choice) => model == "cut-early-0" && choice == 0 ? 2 : Math.Min(6, Already(choice) + max);
        bool ids = body.TryGetProperty("return_token_ids", out var r) && r.ValueKind == JsonValueKind.True;
        bool usage = body.TryGetProperty("stream_options", out var o) && o.TryGetProperty("include_usage", out var u) && u.ValueKind == JsonValueKind.True;
        context.Response.ContentType = "text/event-stream";
        string streamId = $"cmpl-{id}-{Guid.NewGuid():N}";
        async Task SendAsync(string data)
        {
            await context.Response.WriteAsync($"data: {data}\n\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
        string Chunk(int index, string text, string? finish, int word)
        {
            string f = finish is null ? "null" : $"\"{finish}\"";
            string tokenIds = ids ? $", \"token_ids\": [{word}]" : "";
            return chat
                ? $$$"""{"id": "{{{streamId}}}", "object": "chat.completion.chunk", "created": 1, "model": "{{{model}}}", "choices": [{"index": {{{index}}}, "delta": {"content": "{{{text}}}"}, "logprobs": null, "finish_reason": {{{f}}}{{{tokenIds}}}}]}"""
                : $$$"""{"id": "{{{streamId}}}", "object": "text_completion", "created": 1, "model": "{{{model}}}", "choices": [{"index": {{{index}}}, "text": "{{{text}}}", "logprobs": null, "finish_reason": {{{f}}}{{{tokenIds}}}}]}""";
        }
        if (chat)
        {
            for (int i = 0; i < choices; i++)
            {
                await SendAsync($$$"""{"id": "{{{streamId}}}", "object": "chat.completion.chunk", "created": 1, "model": "{{{model}}}", "choices": [{"index": {{{i}}}, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}]}""");
            }
        }
        else
        {
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
        if (model.StartsWith("delay-", StringComparison.Ordinal))
        {
            await Task.Delay(int.Parse(model["delay-".Length..], System.Globalization.CultureInfo.InvariantCulture), context.RequestAborted);
        }
        if (model == "late")
        {
            await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted);
        }
        if (model == "cut-tool" && chat)
        {
            // a tool call in progress: its id and name, half its arguments, then the connection drops
            await SendAsync($$$"""{"id": "{{{streamId}}}", "object": "chat.completion.chunk", "created": 1, "model": "{{{model}}}", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]}, "logprobs": null, "finish_reason": null}]}""");
            await SendAsync($$$"""{"id": "{{{streamId}}}", "object": "chat.completion.chunk", "created": 1, "model": "{{{model}}}", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": "}}]}, "logprobs": null, "finish_reason": null}]}""");
            await Task.Delay(300, context.RequestAborted);
            context.Abort();
            return;
        }
        int sent = 0;
        for (int k = 1; k <= 6; k++)
        {
            for (int i = 0; i < choices; i++)
            {
                int word = Already(i) + k;
                if (word > Last(i))
                {
                    continue;
                }
                if (k == 4 && model is "cut" or "cut-early-0")
                {
                    // a moment for the words sent to be read: a reset discards what the receiver has not read yet
                    await Task.Delay(300, context.RequestAborted);
                    context.Abort();
                    return;
                }
                if (k == 4 && model == "stall")
                {
                    await Task.Delay(Timeout.Infinite, context.RequestAborted);
                }
                if (k == 3 && i == 0 && model == "malformed")
                {
                    await SendAsync("""{"choices": [{"text": "BROKEN""");
                }
                await SendAsync(Chunk(i, $"w{word} ", word == Last(i) ? (word == 6 ? "stop" : model == "cut-early-0" ? "stop" : "length") : null, word));
                sent++;
            }
        }
        if (usage)
        {
            int prompt = already.Sum(a => 1 + a);
            await SendAsync($$$"""{"id": "{{{streamId}}}", "object": "{{{(chat ? "chat.completion.chunk" : "text_completion")}}}", "created": 1, "model": "{{{model}}}", "choices": [], "usage": {"prompt_tokens": {{{prompt}}}, "completion_tokens": {{{sent}}}, "total_tokens": {{{prompt + sent}}}}}""");
        }
        if (model == "no-done")
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }
        await SendAsync("[DONE]");
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
