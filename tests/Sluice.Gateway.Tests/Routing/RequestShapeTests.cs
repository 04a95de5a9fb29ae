using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Routing;

/// <summary>Request-shape pools: long prompts and long answers go to their named pools, everything else to the default one.</summary>
public sealed class RequestShapeTests : IAsyncLifetime
{
    private FaultyBackend _general = null!;
    private FaultyBackend _long = null!;
    private FaultyBackend _decode = null!;

    public async Task InitializeAsync()
    {
        _general = await FaultyBackend.StartAsync();
        _long = await FaultyBackend.StartAsync();
        _decode = await FaultyBackend.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _general.DisposeAsync();
        await _long.DisposeAsync();
        await _decode.DisposeAsync();
    }

    private async Task<string> BackendOfAsync(TestGateway g, string path, string json)
    {
        var response = await g.Client.PostAsync(path, Requests.Json(json));
        response.EnsureSuccessStatusCode();
        string backend = Requests.Header(response, AttemptTransformer.BackendHeader);
        return backend == _general.Url.Authority ? "general" : backend == _long.Url.Authority ? "long" : backend == _decode.Url.Authority ? "decode" : backend;
    }

    [Fact]
    public async Task LongPromptsAndLongAnswers_GoToTheirPools_OthersToTheDefault()
    {
        string yaml = $"""
            models:
              - name: m
                pools:
                  - {"{"}name: long, prompt_tokens_over: 100{"}"}
                  - {"{"}name: decode, max_tokens_over: 1000{"}"}
                deployments:
                  - {"{"}url: '{_general.Url}', model: ok, kind: openai{"}"}
                  - {"{"}url: '{_long.Url}', model: ok, kind: openai, pool: long{"}"}
                  - {"{"}url: '{_decode.Url}', model: ok, kind: openai, pool: decode{"}"}
            """;
        await using var g = await TestGateway.StartAsync(yaml);
        string longText = string.Concat(Enumerable.Repeat("word ", 100)); // 500 bytes: about 125 tokens
        Assert.Equal("general", await BackendOfAsync(g, "/v1/completions", """{"model": "m", "prompt": "short", "max_tokens": 10}"""));
        Assert.Equal("long", await BackendOfAsync(g, "/v1/completions", $$"""{"model": "m", "prompt": "{{longText}}", "max_tokens": 10}"""));
        Assert.Equal("long", await BackendOfAsync(g, "/v1/chat/completions", $$"""{"model": "m", "messages": [{"role": "user", "content": "{{longText}}"}]}"""));
        Assert.Equal("long", await BackendOfAsync(g, "/v1/completions", $$"""{"model": "m", "prompt": [{{string.Join(",", Enumerable.Range(0, 101))}}]}"""));
        Assert.Equal("decode", await BackendOfAsync(g, "/v1/completions", """{"model": "m", "prompt": "short", "max_tokens": 2000}"""));
        Assert.Equal("general", await BackendOfAsync(g, "/v1/completions", """{"model": "m", "prompt": "short", "max_tokens": 1000}"""));
        // a pool with nothing available: the default pool takes the request
        g.Gateway.Router.Backends.All.Single(b => b.Id == _long.Url.Authority).CoolDown(TimeSpan.FromMinutes(1), "test: out of routing");
        Assert.Equal("general", await BackendOfAsync(g, "/v1/completions", $$"""{"model": "m", "prompt": "{{longText}}"}"""));
    }
}
