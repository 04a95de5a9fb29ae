using Sluice.Hosting.Diagnostics;
using Sluice.Hosting.Logging;
using Sluice.Server.Metrics;

namespace Sluice.Server.Observability;

/// <summary>Metrics, logs and traces of `sluice serve`. Defaults are documented per property.</summary>
public sealed record ObservabilityOptions
{
    /// <summary>What GET /metrics publishes.</summary>
    public MetricsOptions Metrics { get; init; } = new();

    /// <summary>--log-format: text (default) or json.</summary>
    public LogFormat LogFormat { get; init; } = LogFormat.Text;

    /// <summary>Where JSON log lines go; null is standard output.</summary>
    public TextWriter? LogOutput { get; init; }

    /// <summary>
    /// --otlp-traces-endpoint: an OTLP/HTTP (protobuf) collector, e.g. http://otel-collector:4318; /v1/traces is
    /// added when the URL has no path. Null (default) exports no traces.
    /// </summary>
    public Uri? OtlpTracesEndpoint { get; init; }

    /// <summary>How often finished spans are sent to the collector. Default 2 s.</summary>
    public TimeSpan TraceExportInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>GET /debug/heap and GET /debug/trace (--debug-trace-max-seconds).</summary>
    public DiagnosticsOptions Diagnostics { get; init; } = new();
}
