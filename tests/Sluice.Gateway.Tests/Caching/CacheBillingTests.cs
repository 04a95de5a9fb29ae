using System.Net;
using System.Text.Json;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Caching;

/// <summary>
/// Cache hits through the tenancy pipeline (SQLite): billed as cache.billing says, in the same spend rows as every
/// request, and still behind the key's checks. Prices: 0.000001 per prompt token, 0.000003 per completion token; the
/// backend's usage is 1 + 1.
/// </summary>
public sealed class CacheBillingTests : IAsyncLifetime
{
    private const decimal Cost = 0.000001m + 0.000003m;

    private FaultyBackend _backend = null!;

    public async Task InitializeAsync() => _backend = await FaultyBackend.StartAsync();

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    private Task<TestGateway> GatewayAsync(string cache)
    {
        const string Prices = "input_cost_per_token: 0.000001, output_cost_per_token: 0.000003";
        string deployment = $"      - {{url: '{_backend.Url}', model: ok, kind: openai, {Prices}}}\n";
        return TestGateway.StartAsync($"models:\n  - name: demo\n    deployments:\n{deployment}  - name: other\n    deployments:\n{deployment}"
            + $"health:\n  interval: 60s\ntenancy:\n  database: cache.db\ncache: {cache}\n");
    }

    private static async Task<(HttpStatusCode Status, string Cache, string Body)> SendAsync(TestGateway g, string key, string requestId, string model = "demo")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = Requests.Json($$"""{"model": "{{model}}", "prompt": "hello", "max_tokens": 4, "temperature": 0}"""),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        request.Headers.Add("X-Request-Id", requestId);
        using var response = await g.Client.SendAsync(request);
        return (response.StatusCode, Requests.Header(response, "x-sluice-cache"), await response.Content.ReadAsStringAsync());
    }

    private static async Task<JsonElement> RowAsync(TestGateway g, string requestId)
    {
        string logs = await g.Admin.GetStringAsync($"/spend/logs?request_id={requestId}");
        return Assert.Single(JsonDocument.Parse(logs).RootElement.EnumerateArray().ToList());
    }

    [Theory]
    [InlineData("{type: memory}", 0)]
    [InlineData("{type: memory, billing: free}", 0)]
    [InlineData("{type: memory, billing: full}", 1)]
    [InlineData("{type: memory, billing: rate, rate: 0.25}", 0.25)]
    public async Task Hit_BilledAsConfigured_InARowFlaggedAsACacheHit(string cache, double factor)
    {
        await using var g = await GatewayAsync(cache);
        string key = (string)(await Tenants.CreateAsync(g.Admin, """{"models": ["demo"], "team_id": "search"}"""))["key"]!;

        var first = await SendAsync(g, key, "bill-1");
        var second = await SendAsync(g, key, "bill-2");

        Assert.Equal(("miss", "hit"), (first.Cache, second.Cache));
        var generated = await RowAsync(g, "bill-1");
        var hit = await RowAsync(g, "bill-2");
        Assert.False(generated.GetProperty("cache_hit").GetBoolean());
        Assert.Equal(Cost, generated.GetProperty("spend").GetDecimal());
        Assert.True(hit.GetProperty("cache_hit").GetBoolean());
        Assert.Equal((1, 1), (hit.GetProperty("prompt_tokens").GetInt64(), hit.GetProperty("completion_tokens").GetInt64()));
        Assert.Equal(Cost * (decimal)factor, hit.GetProperty("spend").GetDecimal());
        Assert.Equal(200, hit.GetProperty("status").GetInt32());
        Assert.Single(_backend.Attempts);
    }

    [Fact]
    public async Task KeyNotAllowedTheModel_Is403EvenWhenTheAnswerIsCached()
    {
        await using var g = await GatewayAsync("{type: memory}");
        string both = (string)(await Tenants.CreateAsync(g.Admin, """{"models": ["demo", "other"]}"""))["key"]!;
        string demoOnly = (string)(await Tenants.CreateAsync(g.Admin, """{"models": ["demo"]}"""))["key"]!;
        Assert.Equal("miss", (await SendAsync(g, both, "k-1", "other")).Cache);
        Assert.Equal("hit", (await SendAsync(g, both, "k-2", "other")).Cache);

        var refused = await SendAsync(g, demoOnly, "k-3", "other");

        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.Contains("model_not_allowed", refused.Body, StringComparison.Ordinal);
        Assert.Equal("", refused.Cache);
    }

    [Fact]
    public async Task RevokedKey_Is401EvenWhenTheAnswerIsCached()
    {
        await using var g = await GatewayAsync("{type: memory}");
        var created = await Tenants.CreateAsync(g.Admin, """{"models": ["demo"]}""");
        string key = (string)created["key"]!;
        Assert.Equal("miss", (await SendAsync(g, key, "r-1")).Cache);
        Assert.Equal("hit", (await SendAsync(g, key, "r-2")).Cache);
        using (var revoke = await g.Admin.PostAsync($"/admin/keys/{created["id"]}/revoke", null))
        {
            Assert.True(revoke.IsSuccessStatusCode);
        }

        var refused = await SendAsync(g, key, "r-3");

        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.Contains("was revoked", refused.Body, StringComparison.Ordinal);
        Assert.Single(_backend.Attempts);
    }
}
