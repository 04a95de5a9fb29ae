using System.Diagnostics;
using Sluice.Hosting.Metrics;
using Sluice.Hosting.Metrics.Exposition;
using Sluice.Hosting.Tls;
using Sluice.Server.Hosting;
using Sluice.Server.Observability;

namespace Sluice.Server.Metrics;

/// <summary>
/// Everything GET /metrics publishes: counts what <see cref="ServerTelemetry"/> reports per request and
/// reads the engine's counters and gauges, the model's state and the process' memory at scrape time.
/// </summary>
public sealed class ServerMetrics : IDisposable
{
    private readonly object _scrapeLock = new();
    private readonly ServingContext _serving;
    private readonly ScrapeState _state;
    private readonly SluiceMetricSet _sluice;
    private readonly VllmMetricSet? _vllm;
    private readonly Process _process = Process.GetCurrentProcess();

    /// <param name="certificates">The served TLS certificate, for its expiry gauge (null: no TLS, no gauge).</param>
    public ServerMetrics(ServingContext serving, MetricsOptions options, CertificateReloader? certificates = null)
    {
        _serving = serving;
        _state = new ScrapeState(serving);
        Registry = new MetricRegistry();
        _sluice = new SluiceMetricSet(Registry, options, _state);
        ProcessMetricSet.Register(Registry, _process);
        if (certificates is not null)
        {
            // as blackbox_exporter's probe_ssl_earliest_cert_expiry: alert on (this - time()) < 14 days
            Registry.Add(ObservedMetric.Single("sluice_tls_certificate_expiry_timestamp_seconds",
                "Unix time at which the served TLS certificate expires (the one in use now, reloads included).", MetricType.Gauge,
                () => new DateTimeOffset(certificates.Current.NotAfter.ToUniversalTime()).ToUnixTimeSeconds()));
        }
        if (options.Compat == MetricsCompat.Vllm)
        {
            _vllm = new VllmMetricSet(Registry, options, _state);
        }
        var histograms = Registry.Descriptors.Where(d => d.Type == MetricType.Histogram).Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        if (options.Buckets.Keys.FirstOrDefault(k => !histograms.Contains(k)) is { } unknown)
        {
            throw new ArgumentException($"--metrics-buckets: no histogram named '{unknown}' is published (see docs/metrics.md)");
        }
        serving.Telemetry.RequestCompleted += Observe;
    }

    public MetricRegistry Registry { get; }

    /// <summary>The exposition, text format 0.0.4.</summary>
    public string Render()
    {
        lock (_scrapeLock)
        {
            _state.Refresh();
            return Registry.Render();
        }
    }

    private void Observe(RequestRecord record)
    {
        _sluice.Observe(record);
        _vllm?.Observe(record);
    }

    public void Dispose()
    {
        _serving.Telemetry.RequestCompleted -= Observe;
        _process.Dispose();
    }
}
