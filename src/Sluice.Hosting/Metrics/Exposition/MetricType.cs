namespace Sluice.Hosting.Metrics.Exposition;

/// <summary>The Prometheus metric types Sluice publishes.</summary>
public enum MetricType
{
    Counter,
    Gauge,
    Histogram,
}
