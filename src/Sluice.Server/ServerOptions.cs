using Sluice.Hosting;

namespace Sluice.Server;

/// <summary>
/// The HTTP side of `sluice serve`, named after vLLM's flags where vLLM has one. Defaults are
/// documented per property; the engine's own settings live in <see cref="Engine.Serving.EngineOptions"/>.
/// </summary>
public sealed record ServerOptions
{
    /// <summary>--host: address to bind. Default 127.0.0.1 (use 0.0.0.0 to listen on every interface).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>--port. Default 8000; 0 picks a free port (see <see cref="SluiceServer.Addresses"/>).</summary>
    public int Port { get; init; } = 8000;

    /// <summary>--model as given (a file or folder), for the log and /version; null: the built-in demo model.</summary>
    public string? ModelPath { get; init; }

    /// <summary>
    /// The effective configuration as the command line resolved it (each flag, its value and where it came from: flag,
    /// environment, config file or default), for GET /version; secrets already redacted. Empty when not built by the CLI.
    /// </summary>
    public IReadOnlyList<ConfigSetting> Settings { get; init; } = [];

    /// <summary>--served-model-name: names clients may use; the first is reported. Empty uses the model's name.</summary>
    public IReadOnlyList<string> ServedModelNames { get; init; } = [];

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

    /// <summary>--max-num-queued-reqs: sequences allowed to wait beyond --max-num-seqs before 429. Default 256.</summary>
    public int MaxNumQueuedReqs { get; init; } = 256;

    /// <summary>--max-num-queued-tokens: prompt tokens allowed to wait for prefill before 429; null is unbounded (default).</summary>
    public long? MaxNumQueuedTokens { get; init; }

    /// <summary>--request-timeout: a request still running after this ends with a timeout error; null (default) never.</summary>
    public TimeSpan? RequestTimeout { get; init; }

    /// <summary>--stall-timeout: readiness fails when work is pending and no engine step finished for this long. Default 60 s.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>--shutdown-timeout (alias --drain-timeout): how long SIGTERM waits for in-flight requests. Default 30 s; 0 aborts them at once.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>--metrics-port: a plain-HTTP listener serving only /metrics and the probes, without the key. Null (default): none.</summary>
    public int? MetricsPort { get; init; }

    /// <summary>--max-request-body-size in bytes: larger bodies get 413. Default 8 MiB.</summary>
    public long MaxRequestBodySize { get; init; } = 8 << 20;

    /// <summary>
    /// --max-output-tokens: the default max_tokens of every generation route and the largest a request may ask for (more is
    /// a 400 naming the field). Null (default): completions and predict default to 16 as OpenAI's and vLLM's do, chat to
    /// what is left of the context, and no ceiling but the context.
    /// </summary>
    public int? MaxOutputTokens { get; init; }

    /// <summary>
    /// --embedding-pooling: how /v1/embeddings pools the final hidden states of an input. Default last (the last token's, as
    /// vLLM pools decoder-only models); mean averages every token's. Vectors are L2-normalized.
    /// </summary>
    public Engine.Serving.EmbeddingPooling EmbeddingPooling { get; init; } = Engine.Serving.EmbeddingPooling.Last;

    /// <summary>--reasoning-parser: split chat answers' thinking into reasoning_content (qwen3 or deepseek_r1). Null (default): none.</summary>
    public Chat.Reasoning.ReasoningFormat? ReasoningParser { get; init; }

    /// <summary>--enable-per-request-metrics: responses (and the last stream chunk) carry queue/prefill/decode times.</summary>
    public bool EnablePerRequestMetrics { get; init; }

    /// <summary>
    /// --packed-weights-cache: the folder of packed-weights files (<see cref="Sluice.Engine.Models.PackedWeightsCache"/>): the
    /// weights repacked for the fast kernels are written there once and memory-mapped shared by every later start and every
    /// replica on the machine. Null (the default here; `sluice serve` defaults to ~/.cache/sluice/packed): packed into
    /// private memory at every start.
    /// </summary>
    public string? PackedWeightsCache { get; init; }

    /// <summary>Run a short generation through every code path before reporting ready. Default on (--no-warmup turns it off).</summary>
    public bool Warmup { get; init; } = true;

    /// <summary>Lowest level logged. Default Information.</summary>
    public Microsoft.Extensions.Logging.LogLevel LogLevel { get; init; } = Microsoft.Extensions.Logging.LogLevel.Information;

    /// <summary>The clock for timeouts, uptime, key grace periods and rates; the engine gets it too.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The part of these options every Sluice host shares.</summary>
    internal SluiceHostingOptions Hosting() => new()
    {
        Host = Host,
        Port = Port,
        ApiKeys = ApiKeys,
        ApiKeyFile = ApiKeyFile,
        ApiKeyGracePeriod = ApiKeyGracePeriod,
        OpenPaths = OpenPaths,
        SslCertFile = SslCertFile,
        SslKeyFile = SslKeyFile,
        MaxRequestBodySize = MaxRequestBodySize,
        MetricsPort = MetricsPort,
        ShutdownTimeout = ShutdownTimeout,
        Time = Time,
    };
}

/// <summary>One flag of the effective configuration: its name without dashes, its value as text, and its source.</summary>
public sealed record ConfigSetting(string Name, string? Value, string Source);
