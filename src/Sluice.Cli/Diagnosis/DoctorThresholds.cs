namespace Sluice.Cli.Diagnosis;

/// <summary>Where the doctor draws its lines; the defaults match deploy/prometheus/sluice-alerts.yml.</summary>
internal sealed record DoctorThresholds
{
    /// <summary>--ttft-target: mean time to first token above this is high. Default 1 s (SluiceHighTtftP95).</summary>
    public double TtftSeconds { get; init; } = 1.0;

    /// <summary>--itl-target: mean inter-token latency above this is slow decode. Default 0.2 s.</summary>
    public double ItlSeconds { get; init; } = 0.2;

    /// <summary>KV cache usage at or above this is pressure. 0.9 (SluiceKvCacheHigh).</summary>
    public double KvUsage { get; init; } = 0.9;

    /// <summary>An error burst: at least this share of the window's requests failed... (SluiceHighErrorRate's 5%).</summary>
    public double ErrorRate { get; init; } = 0.05;

    /// <summary>...and at least this many of them.</summary>
    public int MinErrors { get; init; } = 3;

    /// <summary>Mean batch below this share of --max-num-seqs while requests wait: low batch occupancy.</summary>
    public double LowOccupancy { get; init; } = 0.25;
}
