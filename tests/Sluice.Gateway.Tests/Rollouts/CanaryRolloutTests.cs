using System.Text.Json;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Rollouts;

/// <summary>Automatic canary analysis end to end: a real gateway, fake backends as the stable and the canary version,
/// real requests and short intervals. The canary misbehaves (or not) by the model name it is given.</summary>
public sealed class CanaryRolloutTests
{
    private static string Config(FaultyBackend stable, FaultyBackend canary, string canaryModel, string steps, string interval = "1s") => $"""
        models:
          - name: demo
            traffic: {"{"}v1: 100, v2: 0{"}"}
            deployments:
              - {"{"}url: '{stable.Url}', model: delay-5, version: v1, kind: openai{"}"}
              - {"{"}url: '{canary.Url}', model: {canaryModel}, version: v2, kind: openai{"}"}
            canary:
              version: v2
              steps: {steps}
              interval: {interval}
              min_requests: 4
              latency_slack: 300ms
        health:
          interval: 200ms
        breaker:
          failure_threshold: 1000
        """;

    /// <summary>Requests (every other one streamed) from <paramref name="clients"/> clients until the analysis stops
    /// progressing or 60 s pass.</summary>
    private static async Task<JsonElement> DriveAsync(TestGateway g, int clients = 2)
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var load = Load.UntilAsync(g.Client, "demo", clients, stop.Token);
        JsonElement view;
        while (true)
        {
            using var doc = JsonDocument.Parse(await g.Admin.GetStringAsync("/admin/models/demo/canary"));
            view = doc.RootElement.Clone();
            if (view.GetProperty("state").GetString() != "progressing" || stop.IsCancellationRequested)
            {
                break;
            }
            await Task.Delay(100);
        }
        await stop.CancelAsync();
        var answers = await load;
        Assert.All(answers, a => Assert.Equal(200, a.Status)); // a failing canary's attempts fail over: clients see none of it
        return view;
    }

    [Fact]
    public async Task CanaryWithInjectedErrors_IsRolledBackAutomatically_AndSaysWhy()
    {
        await using var stable = await FaultyBackend.StartAsync();
        await using var canary = await FaultyBackend.StartAsync();
        await using var g = await TestGateway.StartAsync(Config(stable, canary, "fail-50", "[50, 100]"));
        Assert.Equal(50, g.Gateway.Router.SplitOf("demo").Percent["v2"]);
        var view = await DriveAsync(g);
        Assert.Equal("rolled_back", view.GetProperty("state").GetString());
        Assert.Equal(0, view.GetProperty("weight").GetInt32());
        Assert.Contains("error_rate: error rate", view.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, g.Gateway.Router.SplitOf("demo").Percent["v2"]);
        Assert.Contains(g.Logs.Lines, l => l.Contains("Canary demo/v2 rolled back", StringComparison.Ordinal));
        string metrics = await g.Client.GetStringAsync("/metrics");
        Assert.Contains("sluice_gateway_canary_gate_evaluations_total{model=\"demo\",gate=\"error_rate\",result=\"fail\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("sluice_gateway_canary_state{model=\"demo\",version=\"v2\"} 3", metrics, StringComparison.Ordinal);
        // an automatic rollback counts as one for the SluiceGatewayCanaryRolledBack alert
        Assert.Contains("sluice_gateway_traffic_changes_total{model=\"demo\",action=\"rollback\"} 1", metrics, StringComparison.Ordinal);
        // item 3 of the issue: the canary's failed attempts, timed per backend and reason
        Assert.Contains($"sluice_gateway_failed_attempt_duration_seconds_count{{model=\"demo\",backend=\"{canary.Url.Authority}\",reason=\"status_503\"}}", metrics, StringComparison.Ordinal);
        // once rolled back, the canary gets nothing
        int before = canary.Attempts.Count;
        var after = await Load.RunAsync(g.Client, "demo", clients: 1, requestsPerClient: 10);
        Assert.All(after, a => Assert.Equal("v1", a.Version));
        Assert.Equal(before, canary.Attempts.Count);
    }

    [Fact]
    public async Task CanaryWithInjectedLatency_IsRolledBackOnTimeToFirstToken()
    {
        await using var stable = await FaultyBackend.StartAsync();
        await using var canary = await FaultyBackend.StartAsync();
        // A latency gate needs streams of both versions to end their first token in the same interval. A canary stream
        // takes 1.5 s, so a 1 s interval with two clients often has none of it (on a loaded machine, for a minute):
        // longer intervals and more clients make every interval hold both.
        await using var g = await TestGateway.StartAsync(Config(stable, canary, "delay-1500", "[50, 100]", interval: "3s"));
        var view = await DriveAsync(g, clients: 6);
        Assert.True(view.GetProperty("state").GetString() == "rolled_back", $"the canary was not rolled back: {view}");
        Assert.StartsWith("ttft_p95: p95 time to first token", view.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, g.Gateway.Router.SplitOf("demo").Percent["v2"]);
    }

    [Fact]
    public async Task HealthyCanary_IsPromotedThroughItsSteps()
    {
        await using var stable = await FaultyBackend.StartAsync();
        await using var canary = await FaultyBackend.StartAsync();
        await using var g = await TestGateway.StartAsync(Config(stable, canary, "delay-5", "[20, 50, 100]"));
        var view = await DriveAsync(g);
        Assert.Equal("promoted", view.GetProperty("state").GetString());
        var split = g.Gateway.Router.SplitOf("demo");
        Assert.Equal(("v2", 100), (split.Stable, split.Percent["v2"]));
        using var history = JsonDocument.Parse(await g.Admin.GetStringAsync("/admin/history"));
        var canaryChanges = history.RootElement.GetProperty("changes").EnumerateArray()
            .Where(c => c.GetProperty("source").GetString() == "canary").Select(c => c.GetProperty("action").GetString()).ToList();
        Assert.Equal(["canary v2 started (start: auto): step 1 of 3", "canary v2 step 2 of 3", "promoted v2"], canaryChanges);
        Assert.All(view.GetProperty("evaluations").EnumerateArray(), e => Assert.NotEqual("fail", e.GetProperty("result").GetString()));
        var after = await Load.RunAsync(g.Client, "demo", clients: 1, requestsPerClient: 5);
        Assert.All(after, a => Assert.Equal("v2", a.Version));
    }

    [Fact]
    public async Task AdminRoutes_StartAbortResume_NeedTheMasterKey()
    {
        await using var stable = await FaultyBackend.StartAsync();
        await using var canary = await FaultyBackend.StartAsync();
        await using var g = await TestGateway.StartAsync(Config(stable, canary, "delay-5", "[20, 50, 100]").Replace("latency_slack: 300ms", "latency_slack: 300ms\n      start: manual", StringComparison.Ordinal));
        using (var anonymous = await g.Client.PostAsync("/admin/models/demo/canary/start", null))
        {
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, anonymous.StatusCode);
        }
        Assert.Equal(0, g.Gateway.Router.SplitOf("demo").Percent["v2"]);
        using (var start = await g.Admin.PostAsync("/admin/models/demo/canary/start", null))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, start.StatusCode);
            using var doc = JsonDocument.Parse(await start.Content.ReadAsStringAsync());
            Assert.Equal(("progressing", 20), (doc.RootElement.GetProperty("state").GetString(), doc.RootElement.GetProperty("weight").GetInt32()));
        }
        using (var abort = await g.Admin.PostAsync("/admin/models/demo/canary/abort", null))
        {
            using var doc = JsonDocument.Parse(await abort.Content.ReadAsStringAsync());
            Assert.Equal("aborted", doc.RootElement.GetProperty("state").GetString());
            Assert.Equal($"aborted by {Sluice.Gateway.Management.AdminEndpoints.KeyId(TestGateway.MasterKey)}", doc.RootElement.GetProperty("reason").GetString());
        }
        Assert.Equal(0, g.Gateway.Router.SplitOf("demo").Percent["v2"]);
        using (var again = await g.Admin.PostAsync("/admin/models/demo/canary/abort", null))
        {
            Assert.Equal(System.Net.HttpStatusCode.Conflict, again.StatusCode);
        }
        using (var resume = await g.Admin.PostAsync("/admin/models/demo/canary/resume", null))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, resume.StatusCode);
        }
        Assert.Equal(20, g.Gateway.Router.SplitOf("demo").Percent["v2"]);
        using var unknown = await g.Admin.GetAsync("/admin/models/nope/canary");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, unknown.StatusCode);
    }
}
