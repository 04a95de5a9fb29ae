using Microsoft.Extensions.Logging;
using Sluice.Hosting;
using Sluice.Hosting.Diagnostics;

namespace Sluice.Gateway;

/// <summary>`sluice gateway`'s settings besides the YAML file's: the shared hosting options and the admin key.</summary>
public sealed record GatewayOptions
{
    /// <summary>--config: the YAML file (docs/gateway.md), watched and reloaded when it changes.</summary>
    public required string ConfigPath { get; init; }

    /// <summary>Listener, keys, TLS, body limit, drain: as `sluice serve`.</summary>
    public SluiceHostingOptions Hosting { get; init; } = new();

    /// <summary>--master-key: the key of the admin API. None: the admin API refuses every call.</summary>
    public string? MasterKey { get; init; }

    /// <summary>How often the config file is looked at. Default 1 s.</summary>
    public TimeSpan ReloadInterval { get; init; } = TimeSpan.FromSeconds(1);

    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>GET /debug/heap and GET /debug/trace, behind the master key (--debug-trace-max-seconds).</summary>
    public DiagnosticsOptions Diagnostics { get; init; } = new();
}
