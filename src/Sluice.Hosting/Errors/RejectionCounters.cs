namespace Sluice.Hosting.Errors;

/// <summary>How many requests were rejected or ended early, by reason. Thread-safe; read by /health and the metrics.</summary>
public sealed class RejectionCounters
{
    private readonly long[] _counts = new long[Enum.GetValues<AdmissionRejection>().Length];

    public void Increment(AdmissionRejection reason) => Interlocked.Increment(ref _counts[(int)reason]);

    public long this[AdmissionRejection reason] => Interlocked.Read(ref _counts[(int)reason]);

    /// <summary>Every reason with its count (zeros included, so a scrape always sees every series).</summary>
    public IReadOnlyDictionary<AdmissionRejection, long> Snapshot() =>
        Enum.GetValues<AdmissionRejection>().ToDictionary(r => r, r => this[r]);
}
