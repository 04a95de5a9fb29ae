namespace Sluice.Hosting;

/// <summary>
/// What every Sluice host shares: where it listens, its keys, its TLS files, its body limit and how it shuts down.
/// Flag names are vLLM's where vLLM has one; defaults are documented per property.
/// </summary>
public sealed record SluiceHostingOptions
{
    /// <summary>--host: address (or name) to bind. Default 127.0.0.1.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>--port. Default 8000; 0 picks a free port.</summary>
    public int Port { get; init; } = 8000;

    /// <summary>--api-key (repeatable): keys accepted as <c>Authorization: Bearer KEY</c>. None and no key file: no auth.</summary>
    public IReadOnlyList<string> ApiKeys { get; init; } = [];

    /// <summary>--api-key-file: one key per line (# comments); re-read when it changes.</summary>
    public string? ApiKeyFile { get; init; }

    /// <summary>--api-key-grace-period: how long keys removed from the key file stay valid. Default 5 minutes.</summary>
    public TimeSpan ApiKeyGracePeriod { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>--open-path (repeatable): paths served without a key. Default: the health probes.</summary>
    public IReadOnlyList<string> OpenPaths { get; init; } =
        ["/health", "/health/live", "/health/ready", "/health/liveness", "/health/readiness"];

    /// <summary>--ssl-certfile: PEM certificate (chain); with <see cref="SslKeyFile"/> serves HTTPS. Reloaded on change.</summary>
    public string? SslCertFile { get; init; }

    /// <summary>--ssl-keyfile: PEM private key of <see cref="SslCertFile"/>.</summary>
    public string? SslKeyFile { get; init; }

    /// <summary>
    /// --metrics-port: a second, plain-HTTP listener on the same host serving only <see cref="MetricsPortPaths"/> without the
    /// key, for scrapers and kubelets when the API port has TLS and a key. Null (default): none; 0 picks a free port.
    /// </summary>
    public int? MetricsPort { get; init; }

    /// <summary>What the metrics port serves: /metrics and the health probes; anything else there is a 404.</summary>
    public IReadOnlyList<string> MetricsPortPaths { get; init; } =
        ["/metrics", "/health", "/health/live", "/health/ready", "/health/liveness", "/health/readiness"];

    /// <summary>--max-request-body-size in bytes: larger bodies get 413. Default 8 MiB.</summary>
    public long MaxRequestBodySize { get; init; } = 8 << 20;

    /// <summary>--shutdown-timeout: how long SIGTERM waits for in-flight work. Default 30 s; 0 aborts it at once.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Kestrel runs the application (and its own transport work) on the socket's I/O thread instead of queueing it to the
    /// thread pool (its <c>UnsafePreferInlineScheduling</c>): one thread hop less each way, for a host whose request work
    /// is short and never blocks (the gateway, with its socket completions inline too). Default off (`sluice serve`).
    /// </summary>
    public bool InlineScheduling { get; init; }

    /// <summary>The clock for request timings, key grace periods and certificate checks.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}
