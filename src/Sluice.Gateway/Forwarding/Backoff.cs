namespace Sluice.Gateway.Forwarding;

/// <summary>Exponential back-off with full jitter (AWS's): a random delay from 0 to base × 2^n, at least a tenth of it.</summary>
internal static class Backoff
{
    public static TimeSpan Delay(TimeSpan first, int retry)
    {
        double ceiling = first.TotalMilliseconds * Math.Pow(2, Math.Min(retry, 10));
        return TimeSpan.FromMilliseconds(ceiling * (0.1 + (0.9 * Random.Shared.NextDouble())));
    }
}
