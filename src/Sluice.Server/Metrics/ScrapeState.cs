using Sluice.Engine.Serving;
using Sluice.Server.Hosting;

namespace Sluice.Server.Metrics;

/// <summary>What the observed metrics read, taken once per scrape so every series of one scrape agrees.</summary>
internal sealed class ScrapeState(ServingContext serving)
{
    public ServingContext Serving => serving;
    public ModelHost Host => serving.Host;

    /// <summary>The engine, once loaded.</summary>
    public LlmEngine? Engine { get; private set; }

    /// <summary>The engine's counters as of its last step; null before the model is loaded.</summary>
    public EngineStats? Stats { get; private set; }

    public void Refresh()
    {
        Engine = serving.Host.Engine;
        Stats = Engine?.Stats;
    }
}
