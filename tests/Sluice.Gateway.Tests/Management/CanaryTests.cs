using System.Net;
using System.Text.Json;
using Sluice.Gateway.Management;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Management;

/// <summary>Canary and blue-green over the admin API, against real replicas: v1 on three, v2 on one.</summary>
[Collection(ReplicaCollection.Name)]
public sealed class CanaryTests(ServeReplicas replicas)
{
    private string Canary(string traffic) => TestGateway.Config("demo",
        [(replicas.Urls[0], "v1", 1), (replicas.Urls[1], "v1", 1), (replicas.Urls[2], "v1", 1), (replicas.Urls[3], "v2", 1)], traffic);

    [Fact]
    public async Task CanaryAtTenPercent_RoutesTenPercentWithinOnePoint()
    {
        await using var g = await TestGateway.StartAsync(Canary("{v1: 90, v2: 10}"));
        var answers = await Load.RunAsync(g.Client, "demo", clients: 4, requestsPerClient: 50);
        Assert.All(answers, a => Assert.Equal(200, a.Status));
        int canary = answers.Count(a => a.Version == "v2");
        Assert.All(answers.Where(a => a.Version == "v2"), a => Assert.Equal(replicas.Urls[3].Authority, a.Backend));
        // the split is deterministic (smooth weighted round robin): 20 of 200, +-2 (1 point) for nothing but failover
        Assert.InRange(canary, 18, 22);
    }

    [Fact]
    public async Task Rollback_TakesEffectOnTheVeryNextRequest_AndIsInTheHistoryWithTheKeyId()
    {
        await using var g = await TestGateway.StartAsync(Canary("{v1: 50, v2: 50}"));
        using var rollback = await g.Admin.PostAsync("/admin/models/demo/rollback", null);
        Assert.Equal(HttpStatusCode.OK, rollback.StatusCode);
        using (var view = JsonDocument.Parse(await rollback.Content.ReadAsStringAsync()))
        {
            Assert.Equal(100, view.RootElement.GetProperty("traffic").GetProperty("v1").GetInt32());
        }
        var answers = await Load.RunAsync(g.Client, "demo", clients: 1, requestsPerClient: 30);
        Assert.All(answers, a => Assert.Equal("v1", a.Version));

        using var history = JsonDocument.Parse(await g.Admin.GetStringAsync("/admin/history"));
        var last = history.RootElement.GetProperty("changes").EnumerateArray().Last();
        Assert.Equal("rolled back to v1", last.GetProperty("action").GetString());
        Assert.Equal(AdminEndpoints.KeyId(TestGateway.MasterKey), last.GetProperty("actor").GetString());
        Assert.Equal(50, last.GetProperty("before").GetProperty("v2").GetInt32());
        Assert.Contains(g.Logs.Lines, l => l.Contains("rolled back to v1", StringComparison.Ordinal) && l.Contains(AdminEndpoints.KeyId(TestGateway.MasterKey), StringComparison.Ordinal));
    }

    [Fact]
    public async Task PutTraffic_ThenPromote_SwitchesAllTrafficToTheNewVersion()
    {
        await using var g = await TestGateway.StartAsync(Canary("{v1: 100, v2: 0}"));
        using var put = await g.Admin.PutAsync("/admin/models/demo/traffic", Requests.Json("""{"traffic": {"v1": 75, "v2": 25}}"""));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var split = await Load.RunAsync(g.Client, "demo", clients: 1, requestsPerClient: 20);
        Assert.Equal(5, split.Count(a => a.Version == "v2"));
        using var promote = await g.Admin.PostAsync("/admin/models/demo/promote", null);
        Assert.Equal(HttpStatusCode.OK, promote.StatusCode);
        var after = await Load.RunAsync(g.Client, "demo", clients: 2, requestsPerClient: 10);
        Assert.All(after, a => Assert.Equal(replicas.Urls[3].Authority, a.Backend));
        using var get = JsonDocument.Parse(await g.Admin.GetStringAsync("/admin/models/demo/traffic"));
        Assert.Equal("v2", get.RootElement.GetProperty("stable").GetString());
        Assert.Equal("v1", get.RootElement.GetProperty("previous").GetString());
    }

    [Fact]
    public async Task Admin_WithoutTheMasterKey_IsRefused()
    {
        await using var g = await TestGateway.StartAsync(Canary("{v1: 90, v2: 10}"));
        using var anonymous = await g.Client.PostAsync("/admin/models/demo/rollback", null);
        Assert.Equal(HttpStatusCode.Forbidden, anonymous.StatusCode);
        Assert.Equal(90, g.Gateway.Router.SplitOf("demo").Percent["v1"]);
        using var bad = await g.Admin.PutAsync("/admin/models/demo/traffic", Requests.Json("""{"traffic": {"v1": 95}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using var unknown = await g.Admin.GetAsync("/admin/models/nope/traffic");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Backends_ShowStateAndReset_ClearsTheirErrors()
    {
        string yaml = TestGateway.Config("demo", [(replicas.Urls[0], "v1", 1), (new Uri("http://127.0.0.1:9"), "v1", 1)]);
        await using var g = await TestGateway.StartAsync(yaml);
        // the dead replica fails, the request goes to the live one
        var answers = await Load.RunAsync(g.Client, "demo", clients: 1, requestsPerClient: 4);
        Assert.All(answers, a => Assert.Equal(200, a.Status));
        using var before = JsonDocument.Parse(await g.Admin.GetStringAsync("/admin/backends"));
        var dead = before.RootElement.GetProperty("backends").EnumerateArray().Single(b => b.GetProperty("id").GetString() == "127.0.0.1:9");
        Assert.True(dead.GetProperty("recent_errors").GetArrayLength() > 0);
        using var reset = await g.Admin.PostAsync("/admin/backends/127.0.0.1:9/reset", null);
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        Assert.Empty(g.Gateway.Router.Backends.All.Single(b => b.Id == "127.0.0.1:9").RecentErrors());
    }
}
