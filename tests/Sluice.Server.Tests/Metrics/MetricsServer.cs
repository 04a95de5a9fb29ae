using Sluice.Engine.Models;
using Sluice.Engine.Serving;
using Sluice.Server.Metrics;
using Sluice.Server.Observability;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Metrics;

/// <summary>A test server with the observability hooks on, and a scrape helper.</summary>
internal static class MetricsServer
{
    public static Task<TestServer> StartAsync(MetricsCompat compat = MetricsCompat.None, ServerOptions? options = null, EngineOptions? engine = null,
        Func<LoadedModel>? load = null, bool waitReady = true) =>
        TestServer.StartAsync(options, engine, load, waitReady, SluiceObservability.Hooks(new ObservabilityOptions { Metrics = new MetricsOptions { Compat = compat } }));

    public static async Task<Scrape> ScrapeAsync(this TestServer t)
    {
        var response = await t.Client.GetAsync("/metrics");
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        return new Scrape(await response.Content.ReadAsStringAsync());
    }
}
