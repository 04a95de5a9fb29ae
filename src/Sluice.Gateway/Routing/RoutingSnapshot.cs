using System.Collections.Concurrent;
using Sluice.Gateway.Configuration;
using Sluice.Gateway.Health;
using Sluice.Gateway.LoadBalancing;

namespace Sluice.Gateway.Routing;

/// <summary>One replica in the routing table: its configuration and its backend's live state.</summary>
public sealed record Deployment(DeploymentConfig Config, BackendState Backend)
{
    private readonly ConcurrentDictionary<string, Uri> _uris = new(StringComparer.Ordinal);

    /// <summary>Where requests go: scheme, authority and the URL's path without its trailing slash (the forwarder's prefix).</summary>
    public string Destination { get; } = Config.Url.GetLeftPart(UriPartial.Authority) + Config.Url.AbsolutePath.TrimEnd('/');

    /// <summary>The destination of a request for <paramref name="path"/> (no query), built once per path (a handful: the routes).</summary>
    public Uri UriFor(string path) => _uris.TryGetValue(path, out var uri) ? uri : _uris.GetOrAdd(path, static (p, prefix) => new Uri(prefix + p), Destination);
}

/// <summary>The replicas of one version of a model, with the rotation that breaks ties between them.</summary>
public sealed class VersionPool(string version, IReadOnlyList<Deployment> deployments)
{
    public string Version { get; } = version;
    public IReadOnlyList<Deployment> Deployments { get; } = deployments;
    public SmoothWeightedRoundRobin Rotation { get; } = new([.. deployments.Select(d => d.Config.Weight)]);
}

/// <summary>A public model: its versions by label.</summary>
public sealed record ModelRoute(string Name, IReadOnlyDictionary<string, VersionPool> Versions)
{
    public required ModelConfig Config { get; init; }
}

/// <summary>
/// The routing table built from one configuration: replaced as a whole on reload (one reference swap), so a request
/// sees either the old table or the new one, never a mix; requests and streams already routed keep their deployment.
/// </summary>
public sealed class RoutingSnapshot
{
    public RoutingSnapshot(GatewayConfig config, Func<DeploymentConfig, BackendState> backendOf)
    {
        Config = config;
        Models = config.Models.ToDictionary(m => m.Name, m => new ModelRoute(m.Name,
            m.Deployments.GroupBy(d => d.Version, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => new VersionPool(g.Key, [.. g.Select(d => new Deployment(d, backendOf(d)))]), StringComparer.Ordinal))
        { Config = m },
            StringComparer.Ordinal);
        Policy = config.Routing.Strategy == BalancingStrategy.WeightedRoundRobin ? new WeightedRoundRobinPolicy() : new LeastOutstandingRequestsPolicy(config.Routing.KvHigh);
    }

    public GatewayConfig Config { get; }
    public IReadOnlyDictionary<string, ModelRoute> Models { get; }
    public ILoadBalancingPolicy Policy { get; }
}
