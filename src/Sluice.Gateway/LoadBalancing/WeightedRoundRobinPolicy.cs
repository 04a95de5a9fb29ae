using Sluice.Gateway.Routing;

namespace Sluice.Gateway.LoadBalancing;

/// <summary>Replicas in turn by weight, whatever their load (smooth weighted round robin).</summary>
public sealed class WeightedRoundRobinPolicy : ILoadBalancingPolicy
{
    public int Pick(VersionPool pool, Func<int, bool> allowed) => pool.Rotation.Next(allowed);
}
