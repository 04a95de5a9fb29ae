using Sluice.Hosting.Errors;


namespace Sluice.Server.Admission;

/// <summary>
/// The bounded queue in front of the engine. A request takes one slot per sequence (prompts × n); the
/// engine runs up to --max-num-seqs of them and up to --max-num-queued-reqs more may wait. Past that,
/// or past --max-num-queued-tokens of prompt tokens waiting for prefill, the answer is 429 with a
/// Retry-After from the current drain rate: the time the engine needs to finish the waiting sequences.
/// </summary>
public sealed class AdmissionController
{
    private static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(60);
    private const int RetryAfterUnknown = 5;
    private const int RetryAfterMax = 60;

    private readonly object _lock = new();
    private readonly int _running;
    private readonly int _queued;
    private readonly long? _queuedTokens;
    private readonly TimeProvider _time;
    private readonly DrainRate _rate;
    private TaskCompletionSource _idle = NewIdle(completed: true);
    private int _inFlight;
    private long _prefillTokens;
    private long _busySince;

    public AdmissionController(int maxNumSeqs, int maxNumQueuedReqs, long? maxNumQueuedTokens, TimeProvider time)
    {
        _running = maxNumSeqs;
        _queued = maxNumQueuedReqs;
        _queuedTokens = maxNumQueuedTokens;
        _time = time;
        _rate = new DrainRate(time, RateWindow);
    }

    /// <summary>Sequences admitted and not yet finished.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Admitted sequences beyond what the engine runs at once.</summary>
    public int Queued => Math.Max(0, InFlight - _running);

    /// <summary>Prompt tokens of admitted requests that have not produced their first token yet.</summary>
    public long PrefillTokens => Interlocked.Read(ref _prefillTokens);

    /// <summary>TimeProvider timestamp of when the server last went from idle to busy (0 when idle).</summary>
    public long BusySince => Interlocked.Read(ref _busySince);

    /// <summary>Sequences finished per second over the last minute.</summary>
    public double DrainRatePerSecond
    {
        get
        {
            lock (_lock)
            {
                return _rate.PerSecond;
            }
        }
    }

    /// <summary>Takes <paramref name="sequences"/> slots or throws a 429 <see cref="ApiException"/>.</summary>
    public AdmissionTicket Admit(int sequences, int promptTokens)
    {
        if (sequences > _running + _queued)
        {
            throw ApiException.BadRequest(
                $"The request asks for {sequences} sequences (prompts × n) but this server runs {_running} and queues {_queued} at most; split it.", "prompt");
        }
        lock (_lock)
        {
            if (_inFlight > 0 && _inFlight + sequences > _running + _queued)
            {
                throw ApiException.QueueFull(
                    $"The server's queue is full ({Math.Max(0, _inFlight - _running)} waiting, --max-num-queued-reqs {_queued}); retry later.",
                    RetryAfterLocked(), AdmissionRejection.QueueFull);
            }
            if (_queuedTokens is { } bound && _prefillTokens > 0 && _prefillTokens + promptTokens > bound)
            {
                throw ApiException.QueueFull(
                    $"{_prefillTokens} prompt tokens are already waiting for prefill and this request adds {promptTokens} (--max-num-queued-tokens {bound}); retry later.",
                    RetryAfterLocked(), AdmissionRejection.QueuedTokensFull);
            }
            if (_inFlight == 0)
            {
                _busySince = _time.GetTimestamp();
                _idle = NewIdle(completed: false);
            }
            _inFlight += sequences;
            Interlocked.Add(ref _prefillTokens, promptTokens); // PrefillDone subtracts without the lock
        }
        return new AdmissionTicket(this, sequences, promptTokens);
    }

    /// <summary>Waits until nothing is in flight; false when <paramref name="timeout"/> passed first.</summary>
    public async Task<bool> WaitForIdleAsync(TimeSpan timeout)
    {
        Task idle;
        lock (_lock)
        {
            idle = _idle.Task;
        }
        try
        {
            await idle.WaitAsync(timeout, _time);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    internal void PrefillDone(int promptTokens) => Interlocked.Add(ref _prefillTokens, -promptTokens);

    internal void Release(int sequences, int unprefilledTokens, bool finished)
    {
        TaskCompletionSource? idle = null;
        lock (_lock)
        {
            _inFlight -= sequences;
            Interlocked.Add(ref _prefillTokens, -unprefilledTokens);
            if (finished)
            {
                _rate.Record(sequences);
            }
            if (_inFlight == 0)
            {
                _busySince = 0;
                idle = _idle;
            }
        }
        idle?.TrySetResult();
    }

    /// <summary>Seconds for the waiting sequences (and this one) to drain at the current rate, 1..60.</summary>
    private int RetryAfterLocked()
    {
        double rate = _rate.PerSecond;
        if (rate <= 0)
        {
            return RetryAfterUnknown;
        }
        int waiting = Math.Max(0, _inFlight - _running) + 1;
        return (int)Math.Clamp(Math.Ceiling(waiting / rate), 1, RetryAfterMax);
    }

    private static TaskCompletionSource NewIdle(bool completed)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed)
        {
            tcs.SetResult();
        }
        return tcs;
    }
}
