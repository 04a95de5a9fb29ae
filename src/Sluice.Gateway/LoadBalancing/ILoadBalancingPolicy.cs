using Sluice.Gateway.Routing;

namespace Sluice.Gateway.LoadBalancing;

/// <summary>Picks one replica of a version among the available ones (as YARP's ILoadBalancingPolicy picks a destination).</summary>
public interface ILoadBalancingPolicy
{
    /// <summary>An index into <paramref name="pool"/>'s deployments for which <paramref name="allowed"/> is true; -1 when none.</summary>
    int Pick(VersionPool pool, Func<int, bool> allowed);
}
