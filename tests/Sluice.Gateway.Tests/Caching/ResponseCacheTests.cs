using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Caching;

/// <summary>
/// The response cache through an in-process gateway over <see cref="FaultyBackend"/> (whose answer ids carry the request
/// id, so an answer from the backend never equals an earlier one), with the memory store and with a real Redis.
/// </summary>
[Collection(TenancyCollection.Name)]
public sealed class ResponseCacheTests(TenancyServers servers) : IAsyncLifetime
{
    private FaultyBackend _backend = null!;

    public async Task InitializeAsync() => _backend = await FaultyBackend.StartAsync();

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    /// <summary>One model, demo, on the backend's "ok", and the cache section for <paramref name="store"/> (memory, or redis on the shared server).</summary>
    private async Task<string> ConfigAsync(string store, string cacheExtra = "", string backendModel = "ok")
    {
        string cache = store == "redis"
            ? $"cache: {{type: redis, redis: '{(await servers.RedisAsync()).ConnectionString}', namespace: 'test-{Guid.NewGuid():N}'{cacheExtra}}}\n"
            : $"cache: {{type: memory{cacheExtra}}}\n";
        return $"models:\n  - name: demo\n    deployments:\n      - {{url: '{_backend.Url}', model: {backendModel}, kind: openai}}\nhealth:\n  interval: 60s\n" + cache;
    }

    internal static async Task<(HttpStatusCode Status, string Cache, string Body)> PostAsync(TestGateway g, string path, string json, string? key = null,
        string? cacheControl = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Requests.Json(json) };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        if (cacheControl is not null)
        {
            request.Headers.TryAddWithoutValidation("Cache-Control", cacheControl);
        }
        using var response = await g.Client.SendAsync(request);
        return (response.StatusCode, Requests.Header(response, "x-sluice-cache"), await response.Content.ReadAsStringAsync());
    }

    private const string Greedy = """{"model": "demo", "prompt": "hello", "max_tokens": 4, "temperature": 0}""";

    [SkippableTheory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task RepeatedDeterministicRequest_ServedFromTheCacheWithAnIdenticalBody(string store)
    {
        await using var g = await TestGateway.StartAsync(await ConfigAsync(store));

        var first = await PostAsync(g, "/v1/completions", Greedy);
        // the same request, spelled differently: keys in another order, whitespace, 0.0 for 0
        var second = await PostAsync(g, "/v1/completions", """{"temperature":0.0,"max_tokens":4,"prompt":"hello","model":"demo","user":"someone"}""");

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(HttpStatusCode.OK, second.Status);
        Assert.Equal("miss", first.Cache);
        Assert.Equal("hit", second.Cache);
        Assert.Equal(first.Body, second.Body);
        Assert.Single(_backend.Attempts);
        Assert.Equal(1, g.Gateway.Metrics.CacheRequests.Value("demo", "hit"));
        Assert.Equal(1, g.Gateway.Metrics.CacheRequests.Value("demo", "miss"));
        string metrics = await g.Client.GetStringAsync("/metrics");
        Assert.Contains("sluice_gateway_cache_requests_total{model=\"demo\",result=\"hit\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains($"sluice_gateway_cache_hit_ratio{{store=\"{store}\"}} 0.5", metrics, StringComparison.Ordinal);
        // the hit is an answered request too, from the backend "cache"; the miss was counted by its backend
        Assert.Contains("sluice_gateway_requests_total{model=\"demo\",version=\"\",backend=\"cache\",code=\"200\"} 1", metrics, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task IdenticalMissesAtOnce_OneBackendCall_TheOthersAnsweredFromItsResult(string store)
    {
        // the backend answers after 500 ms: every request below arrives while the first is still on its way
        await using var g = await TestGateway.StartAsync(await ConfigAsync(store, backendModel: "delay-500"));

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => PostAsync(g, "/v1/completions", Greedy)));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.Single(_backend.Attempts);
        Assert.Single(answers.Select(a => a.Body).Distinct());
        Assert.Equal(1, answers.Count(a => a.Cache == "miss"));
        Assert.Equal(7, answers.Count(a => a.Cache == "hit"));
        Assert.Equal(7, g.Gateway.Metrics.CacheCoalesced.Value("demo"));
    }

    [SkippableFact]
    public async Task IdenticalMissesAtOnce_TheFirstNotStored_TheOthersGoToBackends()
    {
        // a 503 is never stored: the waiting requests look again, miss, and each asks a backend
        await using var g = await TestGateway.StartAsync(await ConfigAsync("memory", backendModel: "503"));

        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => PostAsync(g, "/v1/completions", Greedy)));

        Assert.All(answers, a => Assert.NotEqual(HttpStatusCode.OK, a.Status));
        Assert.True(_backend.Attempts.Count >= 4, $"{_backend.Attempts.Count} attempts");
        Assert.Equal(0, g.Gateway.Metrics.CacheCoalesced.Value("demo"));
    }

    [SkippableTheory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task StreamedRequest_AfterACachedAnswer_IsReplayedAsAStream(string store)
    {
        await using var g = await TestGateway.StartAsync(await ConfigAsync(store));
        var first = await PostAsync(g, "/v1/completions", Greedy);
        Assert.Equal("miss", first.Cache);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = Requests.Json("""{"model": "demo", "prompt": "hello", "max_tokens": 4, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}"""),
        };
        using var response = await g.Client.SendAsync(request);
        var events = await Requests.EventsAsync(response);

        Assert.Equal("hit", Requests.Header(response, "x-sluice-cache"));
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal("fine", Failover.FailoverTests.StreamText(events));
        var answer = JsonDocument.Parse(first.Body).RootElement;
        var chunk = JsonDocument.Parse(events[0]).RootElement;
        Assert.Equal(answer.GetProperty("id").GetString(), chunk.GetProperty("id").GetString());
        Assert.Equal("stop", chunk.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        var usage = JsonDocument.Parse(events[^2]).RootElement.GetProperty("usage");
        Assert.Equal(1, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Single(_backend.Attempts);
    }

    [SkippableTheory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task StreamedFirstRequest_IsCachedAndServedToANonStreamedOne(string store)
    {
        await using var g = await TestGateway.StartAsync(await ConfigAsync(store));
        const string Chat = """{"model": "demo", "messages": [{"role": "user", "content": "hi"}], "temperature": 0, "stream": true}""";
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Requests.Json(Chat) })
        {
            using var streamed = await g.Client.SendAsync(request);
            Assert.Equal("miss", Requests.Header(streamed, "x-sluice-cache"));
            Assert.Equal("w1 w2 w3 w4 w5 w6 ", Failover.FailoverTests.StreamText(await Requests.EventsAsync(streamed)));
        }

        var whole = await PostAsync(g, "/v1/chat/completions", """{"model": "demo", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}""");

        Assert.Equal("hit", whole.Cache);
        var body = JsonDocument.Parse(whole.Body).RootElement;
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("w1 w2 w3 w4 w5 w6 ", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(6, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Single(_backend.Attempts);

        // and streamed again, from the cache
        using var again = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Requests.Json(Chat) };
        using var replay = await g.Client.SendAsync(again);
        var events = await Requests.EventsAsync(replay);
        Assert.Equal("hit", Requests.Header(replay, "x-sluice-cache"));
        Assert.Equal("w1 w2 w3 w4 w5 w6 ", Failover.FailoverTests.StreamText(events));
        Assert.Equal("[DONE]", events[^1]);
        Assert.DoesNotContain(events, e => e.Contains("usage", StringComparison.Ordinal));
        Assert.Single(_backend.Attempts);
    }

    [SkippableTheory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task Entry_PastItsTtl_IsAMissAgain(string store)
    {
        await using var g = await TestGateway.StartAsync(await ConfigAsync(store, ", ttl: 2s"));
        Assert.Equal("miss", (await PostAsync(g, "/v1/completions", Greedy)).Cache);
        Assert.Equal("hit", (await PostAsync(g, "/v1/completions", Greedy)).Cache);

        await Task.Delay(TimeSpan.FromSeconds(3));

        Assert.Equal("miss", (await PostAsync(g, "/v1/completions", Greedy)).Cache);
        Assert.Equal(2, _backend.Attempts.Count);
    }

    [Fact]
    public async Task Reload_ThatChangesTheCache_IsRejectedUntilARestart()
    {
        await using var g = await TestGateway.StartAsync(await ConfigAsync("memory"));

        await g.WriteConfigAsync((await ConfigAsync("memory")).Replace("type: memory", "type: memory, ttl: 1h", StringComparison.Ordinal));

        bool Logged() => g.Logs.Lines.Any(l => l.Contains("the cache section", StringComparison.Ordinal) && l.Contains("restart", StringComparison.Ordinal));
        // the counter moves just before the line is logged: wait for both
        for (int i = 0; i < 100 && (g.Gateway.Metrics.Reloads.Value("rejected") == 0 || !Logged()); i++)
        {
            await Task.Delay(100);
        }
        Assert.Equal(1, g.Gateway.Metrics.Reloads.Value("rejected"));
        Assert.True(Logged(), string.Join("\n", g.Logs.Lines));
    }

    [Fact]
    public async Task SampledRequestWithoutSeed_IsNeverCached()
    {
        await using var g = await TestGateway.StartAsync(await ConfigAsync("memory"));
        const string Sampled = """{"model": "demo", "prompt": "hello", "max_tokens": 4, "temperature": 0.7}""";

        var first = await PostAsync(g, "/v1/completions", Sampled);
        var second = await PostAsync(g, "/v1/completions", Sampled);
        var noTemperature = await PostAsync(g, "/v1/completions", """{"model": "demo", "prompt": "hello"}""");

        Assert.Equal(("bypass", "bypass", "bypass"), (first.Cache, second.Cache, noTemperature.Cache));
        Assert.NotEqual(first.Body, second.Body);
        Assert.Equal(3, _backend.Attempts.Count);
        Assert.Equal(3, g.Gateway.Metrics.CacheRequests.Value("demo", "bypass"));
    }

    [Fact]
    public async Task SampledRequestWithSeed_IsCached()
    {
        await using var g = await TestGateway.StartAsync(await ConfigAsync("memory"));
        const string Seeded = """{"model": "demo", "prompt": "hello", "max_tokens": 4, "temperature": 0.7, "seed": 42, "n": 2}""";

        var first = await PostAsync(g, "/v1/completions", Seeded);
        var second = await PostAsync(g, "/v1/completions", Seeded);
        var otherSeed = await PostAsync(g, "/v1/completions", Seeded.Replace("42", "43", StringComparison.Ordinal));

        Assert.Equal(("miss", "hit", "miss"), (first.Cache, second.Cache, otherSeed.Cache));
        Assert.Equal(first.Body, second.Body);
        Assert.Equal(2, _backend.Attempts.Count);
    }

    [Fact]
    public async Task AnswerOverMaxEntrySize_IsNotStored()
    {
        await using var g = await TestGateway.StartAsync(await ConfigAsync("memory", ", max_entry_size: 64"));

        var first = await PostAsync(g, "/v1/completions", Greedy);
        var second = await PostAsync(g, "/v1/completions", Greedy);

        Assert.Equal(("miss", "miss"), (first.Cache, second.Cache));
        Assert.Equal(2, _backend.Attempts.Count);
        Assert.Equal(2, g.Gateway.Metrics.CacheWrites.Value("too_large"));
    }

    [Fact]
    public async Task CacheControls_NoCacheSkipsTheLookupAndNoStoreTheWrite()
    {
        await using var g = await TestGateway.StartAsync(await ConfigAsync("memory"));

        var notStored = await PostAsync(g, "/v1/completions", """{"model": "demo", "prompt": "hello", "max_tokens": 4, "temperature": 0, "cache": {"no-store": true}}""");
        var stored = await PostAsync(g, "/v1/completions", Greedy);
        var fresh = await PostAsync(g, "/v1/completions", Greedy, cacheControl: "no-cache");
        var hit = await PostAsync(g, "/v1/completions", Greedy);

        Assert.Equal(("miss", "miss", "bypass", "hit"), (notStored.Cache, stored.Cache, fresh.Cache, hit.Cache));
        Assert.Equal(fresh.Body, hit.Body); // the no-cache answer was stored in place of the earlier one
        Assert.Equal(3, _backend.Attempts.Count);
        Assert.All(_backend.Attempts, a => Assert.DoesNotContain("\"cache\"", a.Body, StringComparison.Ordinal));
    }

    [Fact]
    public async Task CacheControls_NoCacheConfigured_AreCheckedAndNeverReachTheBackend()
    {
        // without a cache the plain path forwards the client's own bytes: a body with cache controls must not
        await using var g = await TestGateway.StartAsync(TestGateway.Config("demo", [(_backend.Url, "v1", 1)]));

        var plain = await PostAsync(g, "/v1/completions", """{"model": "demo", "prompt": "hello", "max_tokens": 4, "cache": {"no-store": true}}""");
        var streamed = await PostAsync(g, "/v1/completions", """{"model": "demo", "prompt": "hello", "max_tokens": 4, "stream": true, "cache": {"no-cache": true}}""");
        var refused = await PostAsync(g, "/v1/completions", """{"model": "demo", "prompt": "hello", "cache": {"ttl": 60}}""");

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.BadRequest), (plain.Status, streamed.Status, refused.Status));
        Assert.Contains("cache.ttl", refused.Body, StringComparison.Ordinal);
        Assert.Equal(2, _backend.Attempts.Count);
        Assert.All(_backend.Attempts, a => Assert.DoesNotContain("\"cache\"", a.Body, StringComparison.Ordinal));
        Assert.All(_backend.Attempts, a => Assert.Contains("\"hello\"", a.Body, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{"model": "demo", "prompt": "hello", "temperature": 0, "cache": {"ttl": 60}}""", null, "cache.ttl")]
    [InlineData("""{"model": "demo", "prompt": "hello", "temperature": 0, "cache": {"no-cache": "yes"}}""", null, "cache.no-cache")]
    [InlineData("""{"model": "demo", "prompt": "hello", "temperature": 0}""", "max-age=60", "max-age=60")]
    public async Task UnsupportedCacheControl_Is400NamingIt(string json, string? header, string named)
    {
        await using var g = await TestGateway.StartAsync(await ConfigAsync("memory"));

        var answer = await PostAsync(g, "/v1/completions", json, cacheControl: header);

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Contains(named, answer.Body, StringComparison.Ordinal);
        Assert.Empty(_backend.Attempts);
    }

    [SkippableTheory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task Flush_EmptiesTheCacheAndNeedsTheMasterKey(string store)
    {
        await using var g = await TestGateway.StartAsync(await ConfigAsync(store));
        await PostAsync(g, "/v1/completions", Greedy);
        await PostAsync(g, "/v1/completions", Greedy.Replace("hello", "other", StringComparison.Ordinal));
        Assert.Equal("hit", (await PostAsync(g, "/v1/completions", Greedy)).Cache);

        using (var refused = await g.Client.PostAsync("/admin/cache/flush", null))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
        using var flushed = await g.Admin.PostAsync("/admin/cache/flush", null);
        var view = JsonDocument.Parse(await flushed.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.OK, flushed.StatusCode);
        Assert.Equal(2, view.GetProperty("flushed").GetInt64());
        Assert.Equal(store, view.GetProperty("store").GetString());
        Assert.Equal("miss", (await PostAsync(g, "/v1/completions", Greedy)).Cache);
        Assert.Equal(3, _backend.Attempts.Count);
    }

    [Fact]
    public async Task Flush_WithNoCacheConfigured_IsAClearError()
    {
        await using var g = await TestGateway.StartAsync(TestGateway.Config("demo", [(_backend.Url, "v1", 1)]));

        using var response = await g.Admin.PostAsync("/admin/cache/flush", null);
        string body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("cache_not_configured", body, StringComparison.Ordinal);
        Assert.Contains("No response cache is configured", body, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task RedisStoppedMidLoad_RequestsAreStillServedAndErrorsCounted()
    {
        await using var redis = await RedisServer.StartNewAsync();
        string yaml = $"models:\n  - name: demo\n    deployments:\n      - {{url: '{_backend.Url}', model: ok, kind: openai}}\nhealth:\n  interval: 60s\n"
            + $"cache: {{type: redis, redis: '{redis.ConnectionString}'}}\n";
        await using var g = await TestGateway.StartAsync(yaml);
        Assert.Equal("miss", (await PostAsync(g, "/v1/completions", Greedy)).Cache);
        var before = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => PostAsync(g, "/v1/completions", Greedy)));
        Assert.All(before, r => Assert.Equal(("OK", "hit"), (r.Status.ToString(), r.Cache)));

        redis.Stop();
        var after = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => PostAsync(g, "/v1/completions", Greedy)));

        Assert.All(after, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.All(after, r => Assert.Equal("miss", r.Cache));
        Assert.True(g.Gateway.Metrics.CacheErrors.Value("get") >= 8);
        Assert.Contains(g.Logs.Lines, m => m.Contains("Response cache (redis) get failed", StringComparison.Ordinal));
        using var flush = await g.Admin.PostAsync("/admin/cache/flush", null);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, flush.StatusCode);
    }
}
