namespace Sluice.Server.Admission;

/// <summary>The slots one request holds in the <see cref="AdmissionController"/>; disposing gives them back.</summary>
public sealed class AdmissionTicket : IDisposable
{
    private readonly AdmissionController _owner;
    private readonly int _sequences;
    private int _unprefilled;
    private bool _finished;
    private int _released;

    internal AdmissionTicket(AdmissionController owner, int sequences, int promptTokens)
    {
        _owner = owner;
        _sequences = sequences;
        _unprefilled = promptTokens;
    }

    /// <summary>A prompt of the request produced its first token: its tokens no longer wait for prefill.</summary>
    public void PrefillDone(int promptTokens)
    {
        int take = Math.Min(promptTokens, Interlocked.CompareExchange(ref _unprefilled, 0, 0));
        Interlocked.Add(ref _unprefilled, -take);
        _owner.PrefillDone(take);
    }

    /// <summary>Marks the request as having run to completion, so it counts toward the drain rate.</summary>
    public void MarkFinished() => _finished = true;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _owner.Release(_sequences, Interlocked.Exchange(ref _unprefilled, 0), _finished);
        }
    }
}
