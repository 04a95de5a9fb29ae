using Sluice.Gateway.Routing;

namespace Sluice.Gateway.LoadBalancing;

/// <summary>
/// The replica with the fewest requests in flight per unit of weight; ties (an idle fleet, or steady equal load) go
/// by smooth weighted round robin, so weights hold at low load too and equal replicas share evenly rather than the
/// first one taking every tie. With load readings from the replicas' /metrics (routing.load_scrape), a replica's
/// waiting queue counts as requests in flight too, and a replica whose KV cache is at least kv_high full counts as
/// loaded past every replica below it.
/// </summary>
public sealed class LeastOutstandingRequestsPolicy(double kvHigh = 0.95) : ILoadBalancingPolicy
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

    /// <summary>Past any in-flight count a replica below kv_high can have.</summary>
    private const double KvFull = 1e9;

    private double Load(Deployment d) => d.Backend.Load is not { } own
        ? (double)d.Backend.InFlight / d.Config.Weight
        : ((d.Backend.InFlight + own.Waiting) / d.Config.Weight) + (own.KvUsage >= kvHigh ? KvFull : 0);
}
