using Microsoft.Extensions.Time.Testing;
using Sluice.Gateway.Configuration;
using Sluice.Gateway.Health;
using Sluice.Gateway.Routing;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tests.Routing;

public sealed class RouterTests
{
    private const string Canary = """
        models:
          - name: m
            traffic: {v1: 90, v2: 10}
            deployments:
              - {url: 'http://a:1', version: v1}
              - {url: 'http://b:1', version: v1}
              - {url: 'http://c:1', version: v2}
        """;

    private static Router RouterFor(string yaml)
    {
        var router = new Router(new FakeTimeProvider());
        router.Apply(GatewayConfigReader.Parse(yaml), "file", "file:test");
        return router;
    }

    private static Deployment Pick(Router r, IReadOnlySet<BackendState>? exclude = null) =>
        r.Pick(r.Snapshot, r.SplitOf("m"), "m", exclude ?? new HashSet<BackendState>())!;

    [Fact]
    public void Pick_CanaryAtTenPercent_SendsOneInTenToTheCanary()
    {
        var r = RouterFor(Canary);
        var versions = Enumerable.Range(0, 200).Select(_ => Pick(r).Config.Version).ToList();
        Assert.Equal(20, versions.Count(v => v == "v2"));
    }

    [Fact]
    public void Pick_LeastOutstanding_AvoidsTheBusyReplica()
    {
        var r = RouterFor(Canary.Replace("v1: 90, v2: 10", "v1: 100, v2: 0", StringComparison.Ordinal));
        var a = r.Backends.All.Single(b => b.Id == "a:1");
        a.Started();
        Assert.All(Enumerable.Range(0, 10), _ => Assert.Equal("b:1", Pick(r).Backend.Id));
        a.Ended();
        var ids = Enumerable.Range(0, 10).Select(_ => Pick(r).Backend.Id).ToList();
        Assert.Equal(5, ids.Count(id => id == "a:1"));
    }

    [Fact]
    public void Pick_WeightsAtIdle_AreRespected()
    {
        var r = RouterFor("models: [{name: m, deployments: [{url: 'http://a:1', weight: 3}, {url: 'http://b:1', weight: 1}]}]");
        var ids = Enumerable.Range(0, 400).Select(_ => Pick(r).Backend.Id).ToList();
        Assert.Equal(300, ids.Count(id => id == "a:1"));
    }

    [Fact]
    public void Pick_VersionWithoutAvailableReplica_FallsToAnotherVersion()
    {
        var r = RouterFor(Canary);
        var excluded = r.Backends.All.Where(b => b.Id is "a:1" or "b:1").ToHashSet();
        Assert.Equal("v2", Pick(r, excluded).Config.Version);
        Assert.Null(r.Pick(r.Snapshot, r.SplitOf("m"), "m", r.Backends.All.ToHashSet()));
    }

    [Fact]
    public void Pick_EveryReplicaUnready_TriesThemAnyway()
    {
        var r = RouterFor(Canary);
        foreach (var b in r.Backends.All)
        {
            b.CheckResult(false, "slow probe", r.Snapshot.Config.Breaker);
        }
        Assert.NotNull(Pick(r));
        r.Backends.All.Single(b => b.Id == "c:1").CheckResult(true, null, r.Snapshot.Config.Breaker);
        Assert.All(Enumerable.Range(0, 10), _ => Assert.Equal("c:1", Pick(r).Backend.Id));
    }

    [Fact]
    public void Rollback_OfACanary_SendsEverythingToStableAtOnce()
    {
        var r = RouterFor(Canary);
        var split = r.Rollback("m", "key:abc");
        Assert.Equal(100, split.Percent["v1"]);
        Assert.Equal(0, split.Percent["v2"]);
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal("v1", Pick(r).Config.Version));
        var change = r.History.All()[^1];
        Assert.Equal(("api", "key:abc", "m", "rolled back to v1"), (change.Source, change.Actor, change.Model, change.Action));
        Assert.Equal(10, change.Before!["v2"]);
    }

    [Fact]
    public void Promote_ThenRollback_SwitchesBlueGreenBothWays()
    {
        var r = RouterFor(Canary);
        var promoted = r.Promote("m", null, "key:abc");
        Assert.Equal(("v2", 100), (promoted.Stable, promoted.Percent["v2"]));
        var back = r.Rollback("m", "key:abc");
        Assert.Equal(("v1", 100, 0), (back.Stable, back.Percent["v1"], back.Percent["v2"]));
    }

    [Fact]
    public void SetTraffic_NotAddingUpOrUnknownVersion_IsRefused()
    {
        var r = RouterFor(Canary);
        Assert.Equal(400, Assert.Throws<ApiException>(() => r.SetTraffic("m", new Dictionary<string, int> { ["v1"] = 50 }, "k")).Status);
        Assert.Equal(400, Assert.Throws<ApiException>(() => r.SetTraffic("m", new Dictionary<string, int> { ["v9"] = 100 }, "k")).Status);
        Assert.Equal(404, Assert.Throws<ApiException>(() => r.SetTraffic("nope", new Dictionary<string, int> { ["v1"] = 100 }, "k")).Status);
        Assert.Equal(90, r.SplitOf("m").Percent["v1"]);
    }

    [Fact]
    public void Apply_FileWithTheSameSplit_KeepsTheSplitSetOverTheApi()
    {
        var r = RouterFor(Canary);
        r.SetTraffic("m", new Dictionary<string, int> { ["v1"] = 50, ["v2"] = 50 }, "k");
        r.Apply(GatewayConfigReader.Parse(Canary.Replace("http://a:1", "http://d:1", StringComparison.Ordinal)), "file", "file:test");
        Assert.Equal(50, r.SplitOf("m").Percent["v2"]);
        Assert.Contains(r.Backends.All, b => b.Id == "d:1");
        Assert.DoesNotContain(r.Backends.All, b => b.Id == "a:1");
        r.Apply(GatewayConfigReader.Parse(Canary.Replace("v1: 90, v2: 10", "v1: 80, v2: 20", StringComparison.Ordinal)), "file", "file:test");
        Assert.Equal(20, r.SplitOf("m").Percent["v2"]);
        Assert.Equal("traffic set by file", r.History.All().Last(c => c.Model == "m").Action);
    }

    [Fact]
    public void Apply_BackendKeptAcrossReloads_KeepsItsState()
    {
        var r = RouterFor(Canary);
        var a = r.Backends.All.Single(b => b.Id == "a:1");
        a.Started();
        r.Apply(GatewayConfigReader.Parse(Canary.Replace("v1: 90, v2: 10", "v1: 80, v2: 20", StringComparison.Ordinal)), "file", "file:test");
        Assert.Same(a, r.Backends.All.Single(b => b.Id == "a:1"));
        Assert.Equal(1, a.InFlight);
    }
}
