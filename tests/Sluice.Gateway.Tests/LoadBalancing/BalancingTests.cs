using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.LoadBalancing;

/// <summary>Least outstanding requests across real replicas under steady load.</summary>
[Collection(ReplicaCollection.Name)]
public sealed class BalancingTests(ServeReplicas replicas)
{
    [Fact]
    public async Task ThreeEqualReplicas_UnderSteadyLoad_EachGetItsShareWithin15Percent()
    {
        var three = replicas.Urls.Take(3).Select(u => (u, "v1", 1)).ToList();
        await using var g = await TestGateway.StartAsync(TestGateway.Config("demo", three));
        var answers = await Load.RunAsync(g.Client, "demo", clients: 6, requestsPerClient: 50);
        Assert.All(answers, a => Assert.Equal(200, a.Status));
        var shares = answers.GroupBy(a => a.Backend).ToDictionary(x => x.Key, x => x.Count());
        Assert.Equal(3, shares.Count);
        // a third of 300 each, +-15% of that share
        Assert.All(shares, s => Assert.InRange(s.Value, 85, 115));
    }

    [Fact]
    public async Task WeightedReplicas_UnderSteadyLoad_FollowTheirWeights()
    {
        await using var g = await TestGateway.StartAsync(TestGateway.Config("demo", [(replicas.Urls[0], "v1", 3), (replicas.Urls[1], "v1", 1)]));
        var answers = await Load.RunAsync(g.Client, "demo", clients: 4, requestsPerClient: 50);
        int heavy = answers.Count(a => a.Backend == replicas.Urls[0].Authority);
        // 3:1 of 200 is 150; least outstanding may lend the lighter replica a little more when the heavy one is busy
        Assert.InRange(heavy, 120, 170);
    }
}
