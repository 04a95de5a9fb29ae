using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Health;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.LoadBalancing;

/// <summary>Least outstanding informed by each replica's own /metrics: its waiting queue and KV-cache usage.</summary>
public sealed class LoadAwareBalancingTests : IAsyncLifetime
{
    private FaultyBackend _a = null!;
    private FaultyBackend _b = null!;

    public async Task InitializeAsync()
    {
        _a = await FaultyBackend.StartAsync();
        _b = await FaultyBackend.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    private string Config(string scrape) =>
        $"models:\n  - name: m\n    deployments:\n      - {{url: '{_a.Url}', model: ok, kind: openai}}\n      - {{url: '{_b.Url}', model: ok, kind: openai}}\n{scrape}";

    private static async Task<BackendLoad> ScrapedAsync(TestGateway g, FaultyBackend backend, Func<BackendLoad, bool> seen)
    {
        var state = g.Gateway.Router.Backends.All.Single(b => b.Id == backend.Url.Authority);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (state.Load is not { } load || !seen(load))
        {
            Assert.True(DateTime.UtcNow < deadline, "the backend's /metrics was not read");
            await Task.Delay(50);
        }
        return state.Load!;
    }

    private async Task<List<string>> SendAsync(TestGateway g, int count)
    {
        var backends = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var response = await g.Client.PostAsync("/v1/completions", Requests.Json("""{"model": "m", "prompt": "x"}"""));
            backends.Add(Requests.Header(response, AttemptTransformer.BackendHeader));
        }
        return backends;
    }

    [Fact]
    public async Task AReplicaWithAWaitingQueue_GetsNothingWhileAnIdleOneCanTakeIt()
    {
        _a.Load = (Waiting: 12, KvUsage: 0.2);
        _b.Load = (Waiting: 0, KvUsage: 0.2);
        await using var g = await TestGateway.StartAsync(Config("routing: {load_scrape: 100ms}\n"));
        Assert.Equal(12, (await ScrapedAsync(g, _a, l => l.Waiting == 12)).Waiting);
        await ScrapedAsync(g, _b, _ => true);
        Assert.All(await SendAsync(g, 6), b => Assert.Equal(_b.Url.Authority, b));
    }

    [Fact]
    public async Task AReplicaWithItsKvCacheFull_IsPickedOnlyWhenEveryOtherIsFullToo()
    {
        _a.Load = (Waiting: 0, KvUsage: 0.99);
        _b.Load = (Waiting: 3, KvUsage: 0.5);
        await using var g = await TestGateway.StartAsync(Config("routing: {load_scrape: 100ms}\n"));
        await ScrapedAsync(g, _a, l => l.KvUsage > 0.9);
        await ScrapedAsync(g, _b, _ => true);
        Assert.All(await SendAsync(g, 6), b => Assert.Equal(_b.Url.Authority, b));
    }

    [Fact]
    public async Task WithoutLoadScrape_TheQueuesAreNotRead_AndEqualReplicasShareEvenly()
    {
        _a.Load = (Waiting: 12, KvUsage: 0.99);
        _b.Load = (Waiting: 0, KvUsage: 0);
        await using var g = await TestGateway.StartAsync(Config(""));
        var backends = await SendAsync(g, 6);
        Assert.Equal(3, backends.Count(b => b == _a.Url.Authority));
        Assert.All(g.Gateway.Router.Backends.All, b => Assert.Null(b.Load));
    }
}
