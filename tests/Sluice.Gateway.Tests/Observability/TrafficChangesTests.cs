using Microsoft.Extensions.Time.Testing;
using Sluice.Gateway.Configuration;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Routing;

namespace Sluice.Gateway.Tests.Observability;

/// <summary>sluice_gateway_traffic_changes_total: what SluiceGatewayCanaryRolledBack (deploy/prometheus/sluice-gateway-alerts.yml) reads.</summary>
public sealed class TrafficChangesTests
{
    private const string Canary = """
        models:
          - name: m
            traffic: {v1: 90, v2: 10}
            deployments:
              - {url: 'http://a:1', version: v1}
              - {url: 'http://c:1', version: v2}
        """;

    [Fact]
    public void ModelsKnownBeforeTheMetrics_StartAtZero()
    {
        var router = new Router(new FakeTimeProvider());
        router.Apply(GatewayConfigReader.Parse(Canary), "file", "file:test");
        var metrics = new GatewayMetrics(router);
        Assert.Contains("sluice_gateway_traffic_changes_total{model=\"m\",action=\"rollback\"} 0", metrics.Registry.Render());
    }

    [Fact]
    public void AdminChangesAndFileChanges_AreCountedByModelAndAction()
    {
        var router = new Router(new FakeTimeProvider());
        var metrics = new GatewayMetrics(router);
        router.Apply(GatewayConfigReader.Parse(Canary), "file", "file:test");
        // at zero before the first rollback: increase() in the alert sees 0 -> 1
        Assert.Contains("sluice_gateway_traffic_changes_total{model=\"m\",action=\"rollback\"} 0", metrics.Registry.Render());
        Assert.Contains("sluice_gateway_config_reloads_total{result=\"rejected\"} 0", metrics.Registry.Render());
        router.Rollback("m", "key:abc");
        router.SetTraffic("m", new Dictionary<string, int> { ["v1"] = 50, ["v2"] = 50 }, "key:abc");
        router.Promote("m", null, "key:abc");
        router.Rollback("m", "key:abc");
        Assert.Equal(1, metrics.TrafficChanges.Value("m", "file"));
        Assert.Equal(2, metrics.TrafficChanges.Value("m", "rollback"));
        Assert.Equal(1, metrics.TrafficChanges.Value("m", "promote"));
        Assert.Equal(1, metrics.TrafficChanges.Value("m", "set"));
        Assert.Contains("sluice_gateway_traffic_changes_total{model=\"m\",action=\"rollback\"} 2", metrics.Registry.Render());
    }
}
