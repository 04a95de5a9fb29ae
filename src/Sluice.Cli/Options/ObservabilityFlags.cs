using System.CommandLine;
using Sluice.Hosting.Diagnostics;
using Sluice.Hosting.Logging;
using Sluice.Server;
using Sluice.Server.Metrics;
using Sluice.Server.Observability;

namespace Sluice.Cli.Options;

/// <summary>The metrics, logging and tracing flags of `sluice serve` (vLLM's names where vLLM has one).</summary>
internal sealed class ObservabilityFlags
{
    private readonly Option<string?> _compat = new("--metrics-compat") { Description = "Also publish vLLM's metric names and labels: none (default) or vllm" };
    private readonly Option<bool> _open = new("--metrics-open") { Description = "Serve GET /metrics without the API key (for scrapers that have none; the other routes keep it)" };
    private readonly Option<string[]> _buckets = new("--metrics-buckets") { Description = "Histogram buckets: NAME=B1,B2,... (repeatable; names in docs/metrics.md)" };
    private readonly Option<string?> _logFormat = new("--log-format") { Description = "text (default) or json: one JSON object per line, one line per request" };
    private readonly Option<string?> _otlp = new("--otlp-traces-endpoint") { Description = "OTLP/HTTP collector for traces, e.g. http://localhost:4318 (default: no traces)" };

    private readonly Option<int?> _traceMax = new("--debug-trace-max-seconds") { Description = "Longest CPU trace GET /debug/trace takes, in seconds (default 60)" };

    public IEnumerable<Option> All => [_compat, _open, _buckets, _logFormat, _otlp, _traceMax];

    public ObservabilityOptions Read(ParseResult p) => new()
    {
        Metrics = new MetricsOptions
        {
            Compat = p.GetValue(_compat)?.ToLowerInvariant() switch
            {
                null or "none" => MetricsCompat.None,
                "vllm" => MetricsCompat.Vllm,
                var c => throw new FormatException($"--metrics-compat '{c}': use none or vllm"),
            },
            Buckets = (p.GetValue(_buckets) ?? []).Select(MetricsOptions.ParseBuckets).ToDictionary(kv => kv.Key, kv => kv.Value),
        },
        LogFormat = p.GetValue(_logFormat)?.ToLowerInvariant() switch
        {
            null or "text" => LogFormat.Text,
            "json" => LogFormat.Json,
            var f => throw new FormatException($"--log-format '{f}': use text or json"),
        },
        OtlpTracesEndpoint = p.GetValue(_otlp) is { } url
            ? Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? uri : throw new FormatException($"--otlp-traces-endpoint '{url}': give an http(s) URL")
            : null,
        Diagnostics = p.GetValue(_traceMax) switch
        {
            null => new DiagnosticsOptions(),
            { } max when max >= 1 => new DiagnosticsOptions { MaxTraceSeconds = max },
            var max => throw new FormatException($"--debug-trace-max-seconds {max}: give a whole number of seconds, at least 1"),
        },
    };

    /// <summary>The server options with /metrics opened when --metrics-open is given.</summary>
    public ServerOptions Apply(ParseResult p, ServerOptions options) =>
        p.GetValue(_open) ? options with { OpenPaths = [.. options.OpenPaths, "/metrics"] } : options;
}
