using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Sluice.Gateway.Caching;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tests.Caching;

public sealed class CacheRequestTests
{
    private static CachePlan Plan(string json, string? cacheControl = null, string route = "completions")
    {
        var headers = new HeaderDictionary();
        if (cacheControl is not null)
        {
            headers["Cache-Control"] = cacheControl;
        }
        return CacheRequest.Plan(route, JsonNode.Parse(json)!.AsObject(), headers, enabled: true);
    }

    [Fact]
    public void Key_SameRequestSpelledDifferently_IsTheSame()
    {
        var a = Plan("""{"model": "m", "prompt": "p", "temperature": 0, "stop": ["a", "b"], "logit_bias": {"1": 2, "3": 4}}""");
        var b = Plan("""{"logit_bias":{"3":4,"1":2.0},"stop":["a","b"],"temperature":0.0,"prompt":"p","model":"m","stream":true,"stream_options":{"include_usage":true},"user":"u","priority":3}""");

        Assert.Equal(a.Key, b.Key);
        Assert.True(a.Lookup && a.Store);
    }

    [Theory]
    [InlineData("""{"model": "m", "prompt": "q", "temperature": 0}""")]
    [InlineData("""{"model": "M", "prompt": "p", "temperature": 0}""")]
    [InlineData("""{"model": "m", "prompt": "p", "temperature": 0, "max_tokens": 5}""")]
    [InlineData("""{"model": "m", "prompt": "p", "temperature": 0, "stop": ["b", "a"]}""")]
    [InlineData("""{"model": "m", "prompt": "p", "temperature": 0, "logprobs": 1}""")]
    public void Key_AnyFieldThatChangesTheAnswer_ChangesIt(string other)
    {
        Assert.NotEqual(Plan("""{"model": "m", "prompt": "p", "temperature": 0}""").Key, Plan(other).Key);
    }

    [Fact]
    public void Key_ChatAndCompletionsRoutes_Differ()
    {
        const string Body = """{"model": "m", "prompt": "p", "temperature": 0}""";
        Assert.NotEqual(Plan(Body).Key, Plan(Body, route: "chat").Key);
    }

    [Theory]
    [InlineData("""{"model": "m", "prompt": "p"}""", false)]
    [InlineData("""{"model": "m", "prompt": "p", "temperature": 0.2}""", false)]
    [InlineData("""{"model": "m", "prompt": "p", "temperature": 0}""", true)]
    [InlineData("""{"model": "m", "prompt": "p", "temperature": 1.0, "seed": 7}""", true)]
    [InlineData("""{"model": "m", "prompt": "p", "seed": 7, "n": 3}""", true)]
    public void Plan_OnlyGreedyOrSeededRequests_AreCached(string json, bool cached)
    {
        var plan = Plan(json);
        Assert.Equal(cached, plan.Lookup);
        Assert.Equal(cached ? null : "sampled", plan.Bypass);
    }

    [Fact]
    public void Plan_CacheFieldOfTheBody_IsRemovedBeforeForwarding()
    {
        var body = JsonNode.Parse("""{"model": "m", "prompt": "p", "temperature": 0, "cache": {"no-cache": true}}""")!.AsObject();

        var plan = CacheRequest.Plan("completions", body, new HeaderDictionary(), enabled: true);

        Assert.False(body.ContainsKey("cache"));
        Assert.Equal((false, true, "no_cache"), (plan.Lookup, plan.Store, plan.Bypass));
    }

    [Fact]
    public void Plan_NoCacheAndNoStoreHeaders_BypassTheCache()
    {
        var plan = Plan("""{"model": "m", "prompt": "p", "temperature": 0}""", "no-cache, no-store");
        Assert.False(plan.Used);
    }

    [Fact]
    public void Plan_CacheNotConfigured_StillRefusesUnknownControls()
    {
        var body = JsonNode.Parse("""{"model": "m", "prompt": "p", "cache": {"namespace": "x"}}""")!.AsObject();

        var e = Assert.Throws<ApiException>(() => CacheRequest.Plan("completions", body, new HeaderDictionary(), enabled: false));

        Assert.Equal(400, e.Status);
        Assert.Contains("cache.namespace", e.Message, StringComparison.Ordinal);
    }
}
