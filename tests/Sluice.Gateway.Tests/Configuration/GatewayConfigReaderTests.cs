using Sluice.Gateway.Configuration;

namespace Sluice.Gateway.Tests.Configuration;

public sealed class GatewayConfigReaderTests
{
    private const string Valid = """
        models:
          - name: llama
            traffic: {stable: 90, canary: 10}
            deployments:
              - url: http://10.0.0.1:8000
                model: llama-3.1-8b
                version: stable
                weight: 2
              - url: http://10.0.0.2:8000/
                version: canary
                kind: openai
                api_key: sk-backend
        routing:
          strategy: weighted-round-robin
        retry:
          max_attempts: 2
        timeouts:
          connect: 500ms
          idle: 2m
        health:
          interval: 3s
          timeout: 1s
        breaker:
          failure_threshold: 3
          open_for: 15s
        """;

    [Fact]
    public void Parse_Canary_IsReadWithItsDefaults()
    {
        var c = GatewayConfigReader.Parse("models: [{name: a, traffic: {x: 100, y: 0}, deployments: [{url: 'http://h', version: x}, {url: 'http://g', version: y}], "
            + "canary: {version: y, steps: [5, 25, 50, 100], interval: 2m, max_error_rate_increase_percent: 2.5, golden_command: 'exit 0', start: manual}}]");
        var canary = c.Models[0].Canary!;
        Assert.Equal([5, 25, 50, 100], canary.Steps);
        Assert.Equal(("y", TimeSpan.FromMinutes(2)), (canary.Version, canary.Interval));
        Assert.Equal((0.025, 1.5, 20, 0, false, "exit 0"), (canary.MaxErrorRateIncrease, canary.MaxTtftRatio, canary.MinRequests, canary.FailureLimit, canary.AutoStart, canary.GoldenCommand));
    }

    [Fact]
    public void Parse_EveryField_IsRead()
    {
        var c = GatewayConfigReader.Parse(Valid);
        var m = Assert.Single(c.Models);
        Assert.Equal("llama", m.Name);
        Assert.Equal(90, m.Traffic["stable"]);
        Assert.Equal(10, m.Traffic["canary"]);
        Assert.Equal("llama-3.1-8b", m.Deployments[0].BackendModel);
        Assert.Equal("llama", m.Deployments[1].BackendModel);
        Assert.Equal(2, m.Deployments[0].Weight);
        Assert.Equal("10.0.0.2:8000", m.Deployments[1].BackendId);
        Assert.Equal("/health", m.Deployments[1].HealthPath);
        Assert.Equal("/health/ready", m.Deployments[0].HealthPath);
        Assert.Equal("sk-backend", m.Deployments[1].ApiKey);
        Assert.Equal(BalancingStrategy.WeightedRoundRobin, c.Routing.Strategy);
        Assert.Equal(2, c.Retry.MaxAttempts);
        Assert.Equal(TimeSpan.FromMilliseconds(500), c.Timeouts.Connect);
        Assert.Equal(TimeSpan.FromMinutes(2), c.Timeouts.Idle);
        Assert.Equal(TimeSpan.FromSeconds(3), c.Health.Interval);
        Assert.Equal(3, c.Breaker.FailureThreshold);
        Assert.Equal(TimeSpan.FromSeconds(15), c.Breaker.OpenFor);
    }

    [Fact]
    public void Parse_OneVersionWithoutTraffic_GetsAllOfIt()
    {
        var c = GatewayConfigReader.Parse("models: [{name: a, deployments: [{url: 'http://h:1'}]}]");
        Assert.Equal(100, c.Models[0].Traffic["default"]);
        Assert.Equal(BalancingStrategy.LeastOutstanding, c.Routing.Strategy);
    }

    [Theory]
    [InlineData("models: []", "models: is required")]
    [InlineData("models: [{name: a, deployments: [{url: 'ftp://h'}]}]", "models[0].deployments[0].url: must be an absolute http(s) URL")]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h', weight: 0}]}]", "models[0].deployments[0].weight: must be a whole number from 1")]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h', colour: red}]}]", "models[0].deployments[0].colour: unknown field")]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h', pool: long}]}]", "models[0].deployments[0].pool: no rule in pools sends requests to 'long'")]
    [InlineData("models: [{name: a, pools: [{name: long, prompt_tokens_over: 10}], deployments: [{url: 'http://h'}]}]", "models[0].pools[0].name: no deployment has pool 'long'")]
    [InlineData("models: [{name: a, pools: [{name: long}], deployments: [{url: 'http://h', pool: long}]}]", "models[0].pools[0]: needs prompt_tokens_over or max_tokens_over")]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h', version: x}, {url: 'http://g', version: y}]}]", "models[0].traffic: is required when")]
    [InlineData("models: [{name: a, traffic: {x: 50, y: 40}, deployments: [{url: 'http://h', version: x}, {url: 'http://g', version: y}]}]", "models[0].traffic: percentages must add up to 100, not 90")]
    [InlineData("models: [{name: a, traffic: {z: 100}, deployments: [{url: 'http://h', version: x}]}]", "models[0].traffic.z: no deployment has version 'z'")]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h'}]}, {name: a, deployments: [{url: 'http://h'}]}]", "models: model 'a' is listed twice")]
    [InlineData("models: [{deployments: [{url: 'http://h'}]}]", "models[0].name: is required")]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h'}]}]\ntimeouts: {idle: soon}", "timeouts.idle: must be a duration")]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h'}]}]\nrouting: {strategy: random}", "routing.strategy: must be least-outstanding or weighted-round-robin")]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h'}]}]\nrouter_settings: {}", "router_settings: unknown field")]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h'}]}", "not valid YAML")]
    [InlineData("models: [{name: a, traffic: {x: 100, y: 0}, deployments: [{url: 'http://h', version: x}, {url: 'http://g', version: y}], canary: {version: z, steps: [10, 100], interval: 1m}}]", "models[0].canary.version: no deployment has version 'z'")]
    [InlineData("models: [{name: a, traffic: {x: 100, y: 0}, deployments: [{url: 'http://h', version: x}, {url: 'http://g', version: y}], canary: {version: y, steps: [50, 20, 100], interval: 1m}}]", "models[0].canary.steps[1]: must be more than the step before (50)")]
    [InlineData("models: [{name: a, traffic: {x: 100, y: 0}, deployments: [{url: 'http://h', version: x}, {url: 'http://g', version: y}], canary: {version: y, steps: [10, 50], interval: 1m}}]", "models[0].canary.steps: must end with 100")]
    [InlineData("models: [{name: a, traffic: {x: 100, y: 0}, deployments: [{url: 'http://h', version: x}, {url: 'http://g', version: y}], canary: {version: y, steps: [10, 100]}}]", "models[0].canary.interval: is required")]
    [InlineData("models: [{name: a, traffic: {x: 100, y: 0}, deployments: [{url: 'http://h', version: x}, {url: 'http://g', version: y}], canary: {version: y, steps: [10, 100], interval: 1m, max_ttft_p95_ratio: 0.5}}]", "models[0].canary.max_ttft_p95_ratio: must be a number from 1 to 1000")]
    [InlineData("models: [{name: a, traffic: {x: 100, y: 0}, deployments: [{url: 'http://h', version: x}, {url: 'http://g', version: y}], canary: {version: y, steps: [10, 100], interval: 1m, gates: {}}}]", "models[0].canary.gates: unknown field")]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h', version: x}], canary: {version: x, steps: [100], interval: 1m}}]", "models[0].canary: needs deployments of a stable version")]
    public void Parse_BadFile_NamesTheField(string yaml, string expected)
    {
        var ex = Assert.Throws<GatewayConfigException>(() => GatewayConfigReader.Parse(yaml));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadFile_BadFile_NamesTheFile()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "models: 3");
            var ex = Assert.Throws<GatewayConfigException>(() => GatewayConfigReader.ReadFile(path));
            Assert.StartsWith(path + ": models: must be a list", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
