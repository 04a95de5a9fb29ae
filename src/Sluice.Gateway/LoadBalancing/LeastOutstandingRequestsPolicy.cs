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
        // one reading of the in-flight counts: they move under concurrent requests, and the tie-break must see the same
        // numbers as the minimum, or no replica would match it
        var load = new double[pool.Deployments.Count];
        double least = double.MaxValue;
        for (int i = 0; i < load.Length; i++)
        {
            load[i] = allowed(i) ? Load(pool.Deployments[i]) : double.MaxValue;
            least = Math.Min(least, load[i]);
        }
        if (least == double.MaxValue)
        {
            return -1;
        }
        int pick = pool.Rotation.Next(i => load[i] <= least && allowed(i));
        // a least-loaded replica that turned unavailable meanwhile (its circuit opened): any other still counts
        return pick >= 0 ? pick : pool.Rotation.Next(allowed);
    }

    private static double Load(Deployment d) => (double)d.Backend.InFlight / d.Config.Weight;
}
