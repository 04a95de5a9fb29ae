using System.Collections.Concurrent;

namespace Sluice.Gateway.Rollouts;

/// <summary>One version's attempts in an analysis interval: how many, how many failed (5xx, connection errors,
/// timeouts, stream faults; a 4xx is the client's), and its streams' times to first token and inter-token latencies.</summary>
public sealed record WindowStats(int Attempts, int Errors, IReadOnlyList<double> Ttft, IReadOnlyList<double> Itl)
{
    public static readonly WindowStats Empty = new(0, 0, [], []);

    public double ErrorRate => Attempts == 0 ? 0 : (double)Errors / Attempts;

    /// <summary>The nearest-rank percentile of <paramref name="samples"/> (q from 0 to 1); null when there are none.</summary>
    public static double? Percentile(IReadOnlyList<double> samples, double q)
    {
        if (samples.Count == 0)
        {
            return null;
        }
        var sorted = samples.Order().ToArray();
        int rank = (int)Math.Ceiling(q * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>
/// What the canary analysis reads: per model under analysis and version, the attempts since the last interval. The proxy
/// reports every attempt; models not under analysis cost one dictionary miss. Thread-safe.
/// </summary>
public sealed class VersionSamples
{
    /// <summary>Latency samples kept per version and interval; beyond it they are dropped (the percentile of the first ones).</summary>
    public const int MaxLatencySamples = 50_000;

    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, Accumulator>> _models = new(StringComparer.Ordinal);

    /// <summary>Starts keeping samples of <paramref name="model"/> (an analysis started).</summary>
    public void Watch(string model) => _models.TryAdd(model, new ConcurrentDictionary<string, Accumulator>(StringComparer.Ordinal));

    public void Unwatch(string model) => _models.TryRemove(model, out _);

    /// <summary>An attempt ended: <paramref name="failureReason"/> null when it answered, else why it failed (the metrics' reasons).</summary>
    public void Attempt(string model, string version, string? failureReason)
    {
        if (_models.TryGetValue(model, out var versions))
        {
            versions.GetOrAdd(version, _ => new Accumulator()).Attempt(failureReason is not null && IsError(failureReason));
        }
    }

    public void Ttft(string model, string version, double seconds)
    {
        if (_models.TryGetValue(model, out var versions))
        {
            versions.GetOrAdd(version, _ => new Accumulator()).Latency(ttft: true, seconds);
        }
    }

    public void Itl(string model, string version, double seconds)
    {
        if (_models.TryGetValue(model, out var versions))
        {
            versions.GetOrAdd(version, _ => new Accumulator()).Latency(ttft: false, seconds);
        }
    }

    /// <summary>The version's samples since the last call, and a fresh interval.</summary>
    public WindowStats Take(string model, string version) =>
        _models.TryGetValue(model, out var versions) && versions.TryGetValue(version, out var acc) ? acc.Take() : WindowStats.Empty;

    /// <summary>Whether a failed attempt counts against the version: a 4xx (429 included) is the request's or the client's
    /// quota, not the version's fault; everything else (5xx, connection, timeout, stream faults) is.</summary>
    public static bool IsError(string reason) => !reason.StartsWith("status_4", StringComparison.Ordinal);

    private sealed class Accumulator
    {
        private readonly Lock _lock = new();
        private int _attempts;
        private int _errors;
        private List<double> _ttft = [];
        private List<double> _itl = [];

        public void Attempt(bool error)
        {
            lock (_lock)
            {
                _attempts++;
                _errors += error ? 1 : 0;
            }
        }

        public void Latency(bool ttft, double seconds)
        {
            lock (_lock)
            {
                var list = ttft ? _ttft : _itl;
                if (list.Count < MaxLatencySamples)
                {
                    list.Add(seconds);
                }
            }
        }

        public WindowStats Take()
        {
            lock (_lock)
            {
                var stats = new WindowStats(_attempts, _errors, _ttft, _itl);
                (_attempts, _errors, _ttft, _itl) = (0, 0, [], []);
                return stats;
            }
        }
    }
}
