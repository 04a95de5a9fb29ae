namespace Sluice.Server.Admission;

/// <summary>Finished sequences per second over a sliding window, from which a 429's Retry-After is computed. Not thread-safe: the caller locks.</summary>
internal sealed class DrainRate(TimeProvider time, TimeSpan window)
{
    private readonly Queue<long> _finished = new();
    private readonly long _start = time.GetTimestamp();

    public void Record(int sequences)
    {
        long now = time.GetTimestamp();
        for (int i = 0; i < sequences; i++)
        {
            _finished.Enqueue(now);
        }
        Trim(now);
    }

    /// <summary>Sequences finished per second over the window (or since start when younger); 0 when none.</summary>
    public double PerSecond
    {
        get
        {
            long now = time.GetTimestamp();
            Trim(now);
            if (_finished.Count == 0)
            {
                return 0;
            }
            double span = Math.Min(window.TotalSeconds, time.GetElapsedTime(_start, now).TotalSeconds);
            return _finished.Count / Math.Max(span, 1e-3);
        }
    }

    private void Trim(long now)
    {
        while (_finished.Count > 0 && time.GetElapsedTime(_finished.Peek(), now) > window)
        {
            _finished.Dequeue();
        }
    }
}
