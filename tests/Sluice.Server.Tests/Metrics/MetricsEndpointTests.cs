using System.Net;
using Sluice.Server.Metrics;
using Sluice.Tests.Shared;

namespace Sluice.Server.Tests.Metrics;

/// <summary>Who may scrape, and what Prometheus' own checker says of what they get.</summary>
public sealed class MetricsEndpointTests
{
    [Fact]
    public async Task Metrics_NeedTheApiKey_UnlessOpened()
    {
        await using var closed = await MetricsServer.StartAsync(options: new ServerOptions { ApiKeys = ["sk-a"] });
        using var anonymous = new HttpClient { BaseAddress = closed.BaseUri };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await closed.Client.GetAsync("/metrics")).StatusCode);

        var options = new ServerOptions { ApiKeys = ["sk-b"] };
        await using var open = await MetricsServer.StartAsync(options: options with { OpenPaths = [.. options.OpenPaths, "/metrics"] });
        using var scraper = new HttpClient { BaseAddress = open.BaseUri };
        Assert.Equal(HttpStatusCode.OK, (await scraper.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await scraper.GetAsync("/debug/memory")).StatusCode);
    }

    [SkippableFact]
    public async Task Promtool_AcceptsTheRealExposition()
    {
        string promtool = Promtool.Require();
        await using var t = await MetricsServer.StartAsync(MetricsCompat.Vllm);
        await t.PostAsync("/v1/completions", """{"prompt": "lint me", "max_tokens": 3}""");
        await t.PostAsync("/v1/completions", "{bad");
        string text = (await t.ScrapeAsync()).Text;

        // the sluice_ and process_ families pass promtool's parser and every lint rule
        string sluiceOnly = string.Join('\n', text.Split('\n').Where(l => !l.Contains("vllm:", StringComparison.Ordinal))) + "\n";
        var (rc, output) = await Promtool.RunAsync(promtool, ["check", "metrics"], sluiceOnly);
        Assert.True(rc == 0, output);

        // vLLM's names parse; the only lint promtool has for them is the ':' vLLM itself uses
        (rc, output) = await Promtool.RunAsync(promtool, ["check", "metrics"], text);
        var problems = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(problems);
        Assert.All(problems, p => Assert.EndsWith("metric names should not contain ':'", p));
    }
}
