using Sluice.Gateway.Routing;

namespace Sluice.Gateway.LoadBalancing;

/// <summary>
/// The replica with the fewest requests in flight per unit of weight; ties (an idle fleet, or steady equal load) go
/// by smooth weighted round robin, so weights hold at low load too and equal replicas share evenly rather than the
/// first one taking every tie.
/// </summary>
public sealed class LeastOutstandingRequestsPolicy : ILoadBalancingPolicy
{
    public int Pick(VersionPool pool, Func<int, bool> allowed)
    {
        double least = double.MaxValue;
        for (int i = 0; i < pool.Deployments.Count; i++)
        {
            if (allowed(i))
            {
                least = Math.Min(least, Load(pool.Deployments[i]));
            }
        }
        if (least == double.MaxValue)
        {
            return -1;
        }
        return pool.Rotation.Next(i => allowed(i) && Load(pool.Deployments[i]) <= least);
    }

    private static double Load(Deployment d) => (double)d.Backend.InFlight / d.Config.Weight;
}
