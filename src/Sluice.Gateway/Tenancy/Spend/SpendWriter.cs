using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// Group commit: requests hand their row to <see cref="WriteAsync"/> and await it; one background loop takes every row
/// waiting (up to max_batch), writes them in one transaction and completes each caller's task when the transaction has
/// committed. While a batch commits the next one gathers, so concurrent requests share commits and none waits for a
/// timer. A failed batch is tried again twice (rows are idempotent by row id), then its callers see the error.
/// <see cref="DisposeAsync"/> (drain) writes what is queued before it returns.
/// </summary>
public sealed partial class SpendWriter : IAsyncDisposable
{
    private readonly SpendStore _store;
    private readonly int _maxBatch;
    private readonly ILogger _log;
    private readonly Channel<(UsageRecord Row, TaskCompletionSource Done)> _queue =
        Channel.CreateUnbounded<(UsageRecord, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;

    public SpendWriter(SpendStore store, int maxBatch, ILogger log)
    {
        _store = store;
        _maxBatch = maxBatch;
        _log = log;
        _loop = Task.Run(RunAsync);
    }

    public SpendStore Store => _store;

    /// <summary>Batches committed so far (each one transaction).</summary>
    public long Batches { get; private set; }

    /// <summary>Completes when <paramref name="row"/> is committed; throws when it could not be.</summary>
    public Task WriteAsync(UsageRecord row)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite((row, done)))
        {
            done.SetException(new InvalidOperationException("the spend writer has stopped (the gateway is shutting down)"));
        }
        return done.Task;
    }

    private async Task RunAsync()
    {
        var batch = new List<(UsageRecord Row, TaskCompletionSource Done)>();
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }
            Exception? failure = null;
            for (int attempt = 0; attempt < 3; attempt++)
            {
                try
                {
                    await _store.WriteAsync([.. batch.Select(b => b.Row)]);
                    failure = null;
                    break;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    failure = e;
                    LogWriteFailed(_log, batch.Count, attempt + 1, e.Message);
                    await Task.Delay(TimeSpan.FromMilliseconds(50 * (attempt + 1)));
                }
            }
            Batches++;
            foreach (var (_, done) in batch)
            {
                if (failure is null)
                {
                    done.SetResult();
                }
                else
                {
                    done.SetException(failure);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
    }

    [LoggerMessage(EventId = 501, Level = LogLevel.Error, Message = "Writing {Rows} spend rows failed (try {Attempt}): {Failure}")]
    private static partial void LogWriteFailed(ILogger log, int rows, int attempt, string failure);
}
