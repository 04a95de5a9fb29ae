using System.Net;
using System.Text.Json;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Health;

public sealed class HealthEndpointTests
{
    [Fact]
    public async Task Health_ReportsStatusUptimeModelRequestsAndErrorRate()
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { ServedModelNames = ["probe-model"] });
        await t.PostJsonAsync("/v1/completions", """{"prompt": "x", "max_tokens": 1}""");
        await t.PostJsonAsync("/v1/completions", """{"prompt": "x", "max_tokens": 1}""");
        long stepsBefore = t.Engine.Stats.Steps;
        var response = await t.Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var h = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("healthy", h.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, h.GetProperty("reason").ValueKind);
        Assert.Equal("probe-model", h.GetProperty("model").GetString());
        Assert.Equal(2, h.GetProperty("requests_served").GetInt64());
        Assert.Equal(0, h.GetProperty("error_rate").GetDouble());
        Assert.True(h.GetProperty("uptime_s").GetDouble() >= 0);
        Assert.True(DateTimeOffset.TryParse(h.GetProperty("timestamp").GetString(), out _));

        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await t.Client.GetAsync("/health/ready")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await t.Client.GetAsync("/health/readiness")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await t.Client.GetAsync("/health/liveness")).StatusCode);
        }
        Assert.Equal(stepsBefore, t.Engine.Stats.Steps); // probes never run a generation
    }

    [Fact]
    public async Task AModelThatFailsToLoad_IsUnhealthyWithTheReason_AndNotLive()
    {
        await using var t = await TestServer.StartAsync(load: () => throw new IOException("model.gguf: no such file"), waitReady: false);
        await t.Server.Host.Settled.WaitAsync(TimeSpan.FromSeconds(10));
        var response = await t.Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var h = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("unhealthy", h.GetProperty("status").GetString());
        Assert.Contains("no such file", h.GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await t.Client.GetAsync("/health/live")).StatusCode);
    }

    [Fact]
    public async Task Warmup_RunsBeforeReady()
    {
        var options = new ServerOptions { Warmup = true };
        await using var t = await TestServer.StartAsync(options, waitReady: false);
        await t.Server.Host.Settled.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Sluice.Server.Hosting.ServerState.Ready, t.Server.Host.State);
        Assert.True(t.Engine.Stats.RequestsFinished >= 2, "warm-up should have run its generations before ready");
        Assert.Equal(t.Engine.Stats.KvBlocksTotal, t.Engine.Stats.KvBlocksFree);
    }
}
