namespace Sluice.Gateway.Management;

/// <summary>GET/PUT /admin/models/{name}/traffic: percent per version, the stable version and the one before it.</summary>
public sealed record TrafficView(string Model, IReadOnlyDictionary<string, int> Traffic, string Stable, string? Previous);

/// <summary>PUT /admin/models/{name}/traffic body.</summary>
public sealed record TrafficUpdate(Dictionary<string, int>? Traffic);

/// <summary>POST /admin/models/{name}/promote body (optional): the version to promote.</summary>
public sealed record PromoteBody(string? Version);

/// <summary>GET /admin/history.</summary>
public sealed record HistoryView(IReadOnlyList<ChangeRecord> Changes);

/// <summary>One backend in GET /admin/backends.</summary>
public sealed record BackendView(string Id, string Url, bool Ready, string Circuit, int InFlight, long Requests, long Failures,
    IReadOnlyList<BackendErrorView> RecentErrors);

public sealed record BackendErrorView(DateTimeOffset Time, string Message);

/// <summary>GET /admin/backends.</summary>
public sealed record BackendsView(IReadOnlyList<BackendView> Backends);

/// <summary>GET /admin/models/{name}/canary (and the start, abort and resume routes): the analysis's state
/// (idle, progressing, promoted, rolled_back, aborted), its step (1-based) and the canary's traffic now, failed checks,
/// why it ended, and the last gate evaluations, oldest first.</summary>
public sealed record CanaryView(string Model, string Version, string? Stable, string State, int Step, IReadOnlyList<int> Steps, int Weight,
    int FailedChecks, int FailureLimit, string? Reason, DateTimeOffset? StepStarted, IReadOnlyList<GateEvaluationView> Evaluations);

public sealed record GateEvaluationView(DateTimeOffset Time, int Step, string Gate, string Result, string Reason);

/// <summary>POST /admin/cache/flush: the store emptied (memory, redis) and how many entries it held.</summary>
public sealed record CacheFlushView(string Store, long Flushed);
