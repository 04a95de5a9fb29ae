using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.LoadBalancing;

/// <summary>Prefix affinity: a shared prompt prefix keeps its replica, other prefixes spread, and the load guard moves a hot one.</summary>
public sealed class PrefixAffinityTests : IAsyncLifetime
{
    private readonly List<FaultyBackend> _backends = [];

    public async Task InitializeAsync()
    {
        for (int i = 0; i < 3; i++)
        {
            _backends.Add(await FaultyBackend.StartAsync());
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var b in _backends)
        {
            await b.DisposeAsync();
        }
    }

    private string Config(string extra = "") => "models:\n  - name: m\n    deployments:\n"
        + string.Concat(_backends.Select(b => $"      - {{url: '{b.Url}', model: ok, kind: openai}}\n"))
        + "routing:\n  prefix_affinity: {prefix_chars: 32}\n" + extra;

    private static async Task<string> BackendOfAsync(TestGateway g, string prompt)
    {
        var response = await g.Client.PostAsync("/v1/completions", Requests.Json($$"""{"model": "m", "prompt": "{{prompt}}"}"""));
        response.EnsureSuccessStatusCode();
        return Requests.Header(response, AttemptTransformer.BackendHeader);
    }

    [Fact]
    public async Task SharedPrefix_GoesToOneReplica_OtherPrefixesSpread()
    {
        await using var g = await TestGateway.StartAsync(Config());
        const string System = "You are a helpful assistant who ";
        var same = new HashSet<string>();
        for (int i = 0; i < 9; i++)
        {
            same.Add(await BackendOfAsync(g, $"{System}answers question {i}"));
        }
        Assert.Single(same);
        var spread = new HashSet<string>();
        for (int i = 0; i < 30; i++)
        {
            spread.Add(await BackendOfAsync(g, $"Prefix number {i:D3} is different, then the same tail"));
        }
        Assert.True(spread.Count >= 2, "thirty different prefixes all went to one replica");
    }

    [Fact]
    public async Task HotPrefix_OnAnOverloadedReplica_GoesElsewhere()
    {
        foreach (var b in _backends)
        {
            b.Load = (Waiting: 0, KvUsage: 0.1);
        }
        await using var g = await TestGateway.StartAsync(Config("  load_scrape: 100ms\n"));
        const string Hot = "A hot prefix that everyone sends, ";
        string home = await BackendOfAsync(g, Hot + "first");
        var owner = _backends.Single(b => b.Url.Authority == home);
        owner.Load = (Waiting: 40, KvUsage: 0.1); // its queue is far over the others' (load factor 1.25 × mean + 1)
        var state = g.Gateway.Router.Backends.All.Single(b => b.Id == home);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (state.Load?.Waiting != 40)
        {
            Assert.True(DateTime.UtcNow < deadline, "the load was not scraped");
            await Task.Delay(50);
        }
        for (int i = 0; i < 5; i++)
        {
            Assert.NotEqual(home, await BackendOfAsync(g, Hot + i));
        }
    }
}
