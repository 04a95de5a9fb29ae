using Microsoft.Extensions.DependencyInjection;
using Sluice.Gateway.Configuration;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Configuration;

/// <summary>The watched config file against real replicas: bad files are refused, reloads under load drop nothing.</summary>
[Collection(ReplicaCollection.Name)]
public sealed class ReloadTests(ServeReplicas replicas)
{
    private string Split(int v2) => TestGateway.Config("demo",
        [(replicas.Urls[0], "v1", 1), (replicas.Urls[1], "v1", 1), (replicas.Urls[2], "v2", 1)], $"{{v1: {100 - v2}, v2: {v2}}}");

    [Fact]
    public async Task BadFile_IsRejectedWithALogLineNamingTheError_AndTheOldRoutingKeepsServing()
    {
        await using var g = await TestGateway.StartAsync(Split(0));
        var watcher = g.Gateway.Services.GetRequiredService<ConfigWatcher>();
        await g.WriteConfigAsync(Split(0).Replace("weight: 1", "weight: -3", StringComparison.Ordinal));
        watcher.CheckNow(); // or the periodic check sees it first: judged by the outcome below
        await WaitAsync(() => g.Gateway.Metrics.Reloads.Value("rejected") == 1, g);
        Assert.Contains(g.Logs.Lines, l => l.Contains("Configuration rejected", StringComparison.Ordinal)
            && l.Contains("models[0].deployments[0].weight: must be a whole number from 1 to 1000, not '-3'", StringComparison.Ordinal));
        var answers = await Load.RunAsync(g.Client, "demo", clients: 2, requestsPerClient: 10);
        Assert.All(answers, a => Assert.Equal((200, "v1"), (a.Status, a.Version)));

        await g.WriteConfigAsync(Split(100));
        await WaitAsync(() => g.Gateway.Metrics.Reloads.Value("ok") == 1, g);
        var after = await Load.RunAsync(g.Client, "demo", clients: 1, requestsPerClient: 5);
        Assert.All(after, a => Assert.Equal("v2", a.Version));
        Assert.Equal(1, g.Gateway.Metrics.Reloads.Value("rejected")); // logged once per bad file, not once per check
    }

    [Fact]
    public async Task HundredReloads_UnderLoad_DropNothing()
    {
        await using var g = await TestGateway.StartAsync(Split(10));
        using var stop = new CancellationTokenSource();
        var load = Load.UntilAsync(g.Client, "demo", clients: 4, stop.Token);
        for (int i = 0; i < 100; i++)
        {
            long before = g.Gateway.Metrics.Reloads.Value("ok");
            await g.WriteConfigAsync(Split(i % 2 == 0 ? 50 : 10));
            await WaitAsync(() => g.Gateway.Metrics.Reloads.Value("ok") > before || g.Gateway.Services.GetRequiredService<ConfigWatcher>().CheckNow(), g);
            await Task.Delay(10);
        }
        stop.Cancel();
        var answers = await load;
        Assert.Equal(100, g.Gateway.Metrics.Reloads.Value("ok"));
        Assert.Equal(0, g.Gateway.Metrics.Reloads.Value("rejected"));
        Assert.True(answers.Count >= 20, $"only {answers.Count} requests ran during the reloads");
        Assert.All(answers, a => Assert.True(a.Status == 200 && a.Complete, $"{a.Status} from {a.Backend}, complete: {a.Complete}"));
    }

    private static async Task WaitAsync(Func<bool> condition, TestGateway? g = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out; log:\n" + string.Join("\n", g?.Logs.Lines ?? []));
            await Task.Delay(20);
        }
    }
}
