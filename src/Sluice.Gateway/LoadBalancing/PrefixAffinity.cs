using Sluice.Gateway.Routing;

namespace Sluice.Gateway.LoadBalancing;

/// <summary>
/// Prefix affinity with a load guard (consistent hashing with bounded loads): requests whose prompts start alike go to
/// the same replica, the one with the highest rendezvous hash of the prefix and its backend id (so adding or losing a
/// replica moves only its share), where its prefix cache already holds them; unless that replica's load (in flight plus
/// its scraped waiting queue, per unit of weight) is over load_factor × the mean of the available replicas + 1, in
/// which case the balancing policy picks, so a hot prefix cannot overload one replica.
/// </summary>
public static class PrefixAffinity
{
    public static int Pick(VersionPool pool, Func<int, bool> allowed, string prefix, double loadFactor)
    {
        ulong key = Fnv(prefix, 14695981039346656037UL);
        int best = -1, count = 0;
        ulong bestScore = 0;
        double total = 0;
        for (int i = 0; i < pool.Deployments.Count; i++)
        {
            if (!allowed(i))
            {
                continue;
            }
            count++;
            total += Load(pool.Deployments[i]);
            ulong score = Mix(Fnv(pool.Deployments[i].Backend.Id, key));
            if (best < 0 || score > bestScore)
            {
                (best, bestScore) = (i, score);
            }
        }
        if (best < 0)
        {
            return -1;
        }
        return Load(pool.Deployments[best]) <= (loadFactor * total / count) + 1 ? best : -1;
    }

    public static double Load(Deployment d) => (d.Backend.InFlight + (d.Backend.Load?.Waiting ?? 0)) / d.Config.Weight;

    private static ulong Fnv(string text, ulong hash)
    {
        foreach (char c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }
        return hash;
    }

    /// <summary>A finalizer (splitmix64's) so near keys spread over the whole range.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        return z ^ (z >> 31);
    }
}
