namespace Sluice.Server.Health;

/// <summary>The body of GET /health.</summary>
public sealed record HealthReport(
    string Status,
    string? Reason,
    string State,
    DateTimeOffset Timestamp,
    double UptimeS,
    string Model,
    long RequestsServed,
    double ErrorRate,
    int RequestsRunning,
    int RequestsWaiting,
    double KvCacheUsage);

/// <summary>The body of the liveness and readiness probes.</summary>
public sealed record ProbeReport(string Status, string? Reason);

/// <summary>The body of GET /version.</summary>
/// <summary>GET /version: the build, and the machine's CPU and kernel path (what a regression hunt asks first).</summary>
public sealed record VersionReport(string Version, string? Commit, string Runtime, string Cpu, string KernelPath, string Kernels)
{
    /// <summary>Kernel threads of the engine (null until the model is loaded).</summary>
    public int? Threads { get; init; }

    public string? Model { get; init; }
    public string? ModelPath { get; init; }

    /// <summary>The model's SHA-256 (null while it is computed; <see cref="ModelSha256Status"/> says why).</summary>
    public string? ModelSha256 { get; init; }

    public required string ModelSha256Status { get; init; }

    /// <summary>The engine's resolved limits (what defaults and the model made of the flags).</summary>
    public Dictionary<string, string>? Engine { get; init; }

    /// <summary>Every flag with its value and source (flag, environment, config, default); secrets redacted.</summary>
    public required IReadOnlyList<Sluice.Server.ConfigSetting> Config { get; init; }

    /// <summary>
    /// How this server continues a cut stream, which `sluice gateway` reads before it sends one a continuation:
    /// <c>continued_tokens</c> (completions: the prompt's last tokens were generated already) and
    /// <c>continued_token_ids</c> (completions and chat: the ids sent so far, after which the sampler, detokenizer, stop
    /// strings and parsers resume). A server without this list is older and takes at most <c>continued_tokens</c>.
    /// </summary>
    public IReadOnlyList<string> Continuation { get; init; } = ["continued_tokens", "continued_token_ids"];
}

/// <summary>The body of POST /admin/reset-prefix-cache: how many cached blocks were forgotten, and whether caching is on.</summary>
public sealed record PrefixCacheResetReport(string Status, int ForgottenBlocks, bool PrefixCaching);

/// <summary>The body of POST /admin/warmup.</summary>
public sealed record WarmupReport(string Status, double DurationMs);
