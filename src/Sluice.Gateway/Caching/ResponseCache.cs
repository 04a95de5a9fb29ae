using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Tenancy;
using Sluice.Gateway.Tenancy.Spend;

namespace Sluice.Gateway.Caching;

/// <summary>
/// The response cache (cache: in the config; off without it). The proxy asks it, once the key, the model and the budget
/// reservation have passed (so a revoked key, a key not allowed the model or one over its budget never gets a cached
/// answer), whether it holds the answer (<see cref="TryAnswerAsync"/>), and gives it each complete answer of a cacheable
/// miss (<see cref="StoreAsync"/>). A hit is written from the stored bytes as they are (a streamed request gets them as
/// events), with <c>x-sluice-cache: hit</c> and <c>x-sluice-cache-age</c>, and billed through the usage recorder as
/// cache.billing says. A store that fails (Redis unreachable) fails open: a miss, counted and logged at most once a second.
/// </summary>
public sealed partial class ResponseCache : IAsyncDisposable
{
    public const string Header = "x-sluice-cache";
    public const string AgeHeader = "x-sluice-cache-age";

    /// <summary>The <c>backend</c> label of <c>sluice_gateway_requests_total</c> for an answer from the cache (its version label is empty).</summary>
    public const string CacheBackend = "cache";

    private readonly GatewayMetrics _metrics;
    private readonly UsageRecorder _recorder;
    private readonly TimeProvider _time;
    private readonly ILogger<ResponseCache> _log;
    private readonly TenancyRedis? _ownRedis;
    private long _hits;
    private long _misses;
    private long _lastErrorLog = long.MinValue;

    /// <summary>Cache misses on their way to a backend, by key: identical misses that arrive meanwhile wait for their answer.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<UInt128, TaskCompletionSource> _flights = new();

    /// <summary><paramref name="shared"/>: the tenancy Redis, used when cache.redis is the same; otherwise the cache
    /// connects (and disposes) its own.</summary>
    internal ResponseCache(CacheSettings? settings, TenancyRedis? shared, GatewayMetrics metrics, UsageRecorder recorder, TimeProvider time,
        ILogger<ResponseCache> log)
    {
        (_metrics, _recorder, _time, _log, Settings) = (metrics, recorder, time, log, settings);
        if (settings is null)
        {
            return;
        }
        if (settings.Type == CacheStoreKind.Redis)
        {
            _ownRedis = shared is null ? TenancyRedis.Connect(settings.Redis!) : null;
            Store = new RedisCacheStore(shared ?? _ownRedis!, settings.Namespace);
        }
        else
        {
            Store = new MemoryCacheStore(settings.MaxSize, time, reason => metrics.CacheEvictions.Increment(reason));
        }
        var store = Store;
        metrics.CacheStatus = () => (store.Name, store.Size, Ratio());
        LogOpened(log, store.Name, settings.Ttl.TotalSeconds, settings.Type == CacheStoreKind.Memory ? $"max_size {settings.MaxSize} bytes" : $"namespace {settings.Namespace}",
            settings.Billing.ToString().ToLowerInvariant());
        foreach (string result in new[] { "stored", "too_large", "incomplete" })
        {
            metrics.CacheWrites.Touch(result);
        }
        foreach (string operation in new[] { "get", "set", "flush" })
        {
            metrics.CacheErrors.Touch(operation);
        }
    }

    public CacheSettings? Settings { get; }

    internal ICacheStore? Store { get; }

    public bool Enabled => Store is not null;

    private double Ratio()
    {
        long hits = Interlocked.Read(ref _hits), misses = Interlocked.Read(ref _misses);
        return hits + misses == 0 ? 0 : (double)hits / (hits + misses);
    }

    /// <summary>Reads the request's cache controls (removing them from the body) and decides what the cache does for it.</summary>
    internal CachePlan Plan(string route, JsonObject body, IHeaderDictionary headers) => CacheRequest.Plan(route, body, headers, Enabled);

    /// <summary>A finish reason of a complete answer: stop, length, tool_calls or function_call (not an error, not an abort).</summary>
    public static bool Complete(string? finishReason) => finishReason is "stop" or "length" or "tool_calls" or "function_call";

    /// <summary>
    /// Answers the request from the cache when the plan allows it and the answer is there: true when it did. Otherwise
    /// marks the response (miss or bypass) and counts it.
    /// </summary>
    internal async Task<bool> TryAnswerAsync(HttpContext context, CachePlan plan, string model, bool streamed, bool clientUsage)
    {
        if (Store is not { } store)
        {
            return false;
        }
        if (!plan.Lookup)
        {
            Mark(context, model, "bypass");
            return false;
        }
        var answer = await LookUpAsync(store, plan.Key);
        if (answer is null && plan.Store)
        {
            // identical misses at once: the first goes to a backend, the others wait for its answer and take it from the cache
            var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var flight = _flights.GetOrAdd(plan.Key, mine);
            if (flight == mine)
            {
                context.Response.RegisterForDispose(new Landing(this, plan.Key, mine)); // its request ended without storing: let the others go
            }
            else
            {
                await flight.Task.WaitAsync(context.RequestAborted);
                answer = await LookUpAsync(store, plan.Key);
                if (answer is not null)
                {
                    _metrics.CacheCoalesced.Increment(model);
                }
            }
        }
        if (answer is null)
        {
            Interlocked.Increment(ref _misses);
            Mark(context, model, "miss");
            return false;
        }
        Interlocked.Increment(ref _hits);
        _metrics.CacheRequests.Increment(model, "hit");
        // answered, by the cache: counted with the backends' answers so request rates and error ratios include hits
        _metrics.Requests.Increment(model, "", CacheBackend, "200");
        if (_recorder.Enabled && context.Features.Get<RequestUsage>() is { } usage)
        {
            // the row commits before the answer goes out, as for an answer from a backend
            usage.Cached = true;
            usage.Streamed = streamed;
            (usage.PromptTokens, usage.CompletionTokens) = (answer.PromptTokens, answer.CompletionTokens);
            usage.CachedSpendPico = (long)decimal.Round(answer.Price.Cost(answer.PromptTokens, answer.CompletionTokens) * Settings!.CostFactor);
            usage.Status = StatusCodes.Status200OK;
            await _recorder.RecordAsync(context);
        }
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.Headers[Header] = "hit";
        long age = Math.Max(0, _time.GetUtcNow().ToUnixTimeMilliseconds() - answer.StoredAtMs) / 1000;
        response.Headers[AgeHeader] = age.ToString(CultureInfo.InvariantCulture);
        if (!streamed)
        {
            response.ContentType = "application/json";
            response.ContentLength = answer.Body.Length;
            await response.Body.WriteAsync(answer.Body, context.RequestAborted);
            return true;
        }
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        await response.Body.WriteAsync(answer.Events, context.RequestAborted);
        if (clientUsage)
        {
            await response.Body.WriteAsync(answer.UsageEvent, context.RequestAborted);
        }
        await response.Body.WriteAsync("data: [DONE]\n\n"u8.ToArray(), context.RequestAborted);
        await response.Body.FlushAsync(context.RequestAborted);
        return true;
    }

    private async Task<CachedAnswer?> LookUpAsync(ICacheStore store, UInt128 key)
    {
        try
        {
            return await store.GetAsync(key);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Failed("get", e);
            return null;
        }
    }

    /// <summary>The misses waiting for <paramref name="key"/>'s answer (if any) look again: it was stored, or will not be.</summary>
    private void Land(UInt128 key)
    {
        if (_flights.TryRemove(key, out var flight))
        {
            flight.TrySetResult();
        }
    }

    /// <summary>Ends a leading miss's flight when its request ends (stored or not), unless a store ended it first.</summary>
    private sealed class Landing(ResponseCache cache, UInt128 key, TaskCompletionSource flight) : IDisposable
    {
        public void Dispose()
        {
            cache._flights.TryRemove(KeyValuePair.Create(key, flight));
            flight.TrySetResult();
        }
    }

    private void Mark(HttpContext context, string model, string result)
    {
        _metrics.CacheRequests.Increment(model, result);
        context.Response.OnStarting(() =>
        {
            context.Response.Headers[Header] = result;
            return Task.CompletedTask;
        });
    }

    /// <summary>
    /// Stores a complete answer of a cacheable request: a 200 whose every choice finished (stop, length, a tool call),
    /// not larger than max_entry_size, with its usage and the price it was generated at. Stored before the answer's last
    /// bytes reach the client, so the next identical request finds it.
    /// </summary>
    internal async Task StoreAsync(CachePlan plan, byte[] body, bool chat, long promptTokens, long completionTokens, Price price, bool finishChecked = false)
    {
        if (Store is not { } store || !plan.Store)
        {
            return;
        }
        if (body.Length > Settings!.MaxEntrySize)
        {
            _metrics.CacheWrites.Increment("too_large");
            return;
        }
        if (!finishChecked && !Finished(body))
        {
            _metrics.CacheWrites.Increment("incomplete");
            return;
        }
        var answer = new CachedAnswer(body, chat, promptTokens, completionTokens, price, _time.GetUtcNow().ToUnixTimeMilliseconds());
        try
        {
            await store.SetAsync(plan.Key, answer, Settings.Ttl);
            _metrics.CacheWrites.Increment("stored");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Failed("set", e);
        }
        finally
        {
            Land(plan.Key); // the misses waiting for this answer find it now
        }
    }

    /// <summary>Stores a fresh stream that finished with its backend's usage, assembled into a non-streamed answer.</summary>
    internal Task StoreStreamAsync(CachePlan plan, StreamCapture capture, JsonObject usage, Price price)
    {
        if (Store is null || !plan.Store)
        {
            return Task.CompletedTask;
        }
        if (capture.Assemble(usage) is not { } body)
        {
            _metrics.CacheWrites.Increment("incomplete");
            return Task.CompletedTask;
        }
        long Tokens(string name) => usage[name] is JsonValue v && v.TryGetValue(out long n) ? n : 0;
        return StoreAsync(plan, body, capture.Chat, Tokens("prompt_tokens"), Tokens("completion_tokens"), price, finishChecked: true);
    }

    private static bool Finished(byte[] body)
    {
        try
        {
            return JsonNode.Parse(body) is JsonObject answer && answer["choices"] is JsonArray { Count: > 0 } choices
                && choices.All(c => c?["finish_reason"] is JsonValue f && f.TryGetValue(out string? finish) && Complete(finish));
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    /// <summary>POST /admin/cache/flush: every entry removed; how many.</summary>
    public async Task<long> FlushAsync()
    {
        var store = Store ?? throw new InvalidOperationException("no cache is configured");
        try
        {
            long n = await store.FlushAsync();
            LogFlushed(_log, store.Name, n);
            return n;
        }
        catch (Exception e) when (e is not OutOfMemoryException and not InvalidOperationException)
        {
            Failed("flush", e);
            throw;
        }
    }

    private void Failed(string operation, Exception e)
    {
        _metrics.CacheErrors.Increment(operation);
        long now = _time.GetTimestamp();
        long seen = Volatile.Read(ref _lastErrorLog);
        if ((seen == long.MinValue || _time.GetElapsedTime(seen, now) >= TimeSpan.FromSeconds(1)) && Interlocked.CompareExchange(ref _lastErrorLog, now, seen) == seen)
        {
            LogFailed(_log, Store!.Name, operation, e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_ownRedis is not null)
        {
            await _ownRedis.DisposeAsync();
        }
    }

    [LoggerMessage(EventId = 601, Level = LogLevel.Error, Message = "Response cache ({Store}) {Operation} failed, served as a miss: {Failure}")]
    private static partial void LogFailed(ILogger log, string store, string operation, string failure);

    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Response cache: {Store}, ttl {TtlSeconds} s, {Bound}, hits billed {Billing}")]
    private static partial void LogOpened(ILogger log, string store, double ttlSeconds, string bound, string billing);

    [LoggerMessage(EventId = 602, Level = LogLevel.Information, Message = "Response cache ({Store}) flushed: {Entries} entries removed")]
    private static partial void LogFlushed(ILogger log, string store, long entries);
}
