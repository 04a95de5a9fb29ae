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
public sealed record VersionReport(string Version, string Runtime, string Cpu, string KernelPath, string Kernels);

/// <summary>The body of POST /admin/reset-prefix-cache: how many cached blocks were forgotten, and whether caching is on.</summary>
public sealed record PrefixCacheResetReport(string Status, int ForgottenBlocks, bool PrefixCaching);

/// <summary>The body of POST /admin/warmup.</summary>
public sealed record WarmupReport(string Status, double DurationMs);
