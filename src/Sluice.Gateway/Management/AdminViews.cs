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
