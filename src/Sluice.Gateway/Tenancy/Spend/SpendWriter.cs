using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// Group commit: requests hand their row to <see cref="WriteAsync"/> and await it; one background loop takes every row
/// that arrived while the previous commit ran (up to max_batch), writes them in one transaction (one statement on
/// PostgreSQL) and completes each caller's task when it has committed. No timer: a lone request commits at once, and
/// under load each commit carries what gathered during the last one, so a request waits for its own batch only.
/// A failed batch is tried once more (rows are idempotent by row id), then its callers see the error and the writer is
/// <see cref="Failing"/>: later rows fail at once, without waiting on a database that is down, until a background
/// probe (every second) writes the <see cref="Retain">retained</see> rows or reaches the database again.
/// Rows retained are kept in memory and written once the database is back, and on drain (<see cref="DisposeAsync"/>)
/// with what is queued.
/// With a <see cref="SpendJournal"/> (the default), <see cref="WriteAsync"/> appends the row to the journal and returns
/// at once: the same loop commits journaled rows in the background, a failed batch's rows are retained (they are in the
/// journal too, so a row beyond <see cref="MaxBacklog"/> waits there for the next start), and a segment is deleted once
/// its rows have committed. Each row's <c>committed</c> callback (its budget settlement) runs once its batch has
/// committed or been retained, off the request's path; as no request waits, the loop gathers rows for
/// <see cref="JournalGather"/> (or until a flush or the drain) before each commit, up to max_batch rows.
/// </summary>
public sealed partial class SpendWriter : IAsyncDisposable
{
    private static readonly TimeSpan ProbeEvery = TimeSpan.FromSeconds(1);

    private readonly SpendStore _store;
    private readonly int _maxBatch;
    private readonly ILogger _log;
    private readonly Channel<Item> _queue = Channel.CreateUnbounded<Item>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _backlogLock = new();
    private readonly List<(UsageRecord Row, long Segment)> _backlog = [];
    private readonly SpendJournal? _journal;
    private readonly SemaphoreSlim _writing = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Task _probe;
    private volatile string? _failure;
    private volatile bool _stopping;

    /// <summary>One row to write (with its caller's task, without a journal; its segment, with one), or (Row null) a flush marker.</summary>
    private readonly record struct Item(UsageRecord? Row, TaskCompletionSource? Done, long Segment, Func<Task>? Committed);

    public SpendWriter(SpendStore store, int maxBatch, ILogger log, SpendJournal? journal = null)
    {
        _store = store;
        _journal = journal;
        _maxBatch = maxBatch;
        _log = log;
        _loop = Task.Run(RunAsync);
        _probe = Task.Run(ProbeAsync);
    }

    public SpendStore Store => _store;

    /// <summary>Batches committed so far (each one transaction).</summary>
    public long Batches { get; private set; }

    /// <summary>Why the last write failed, while the database has not answered since; null: writing works.</summary>
    public string? Failing => _failure;

    /// <summary>Rows kept in memory until the database is back.</summary>
    public int Backlog
    {
        get
        {
            lock (_backlogLock)
            {
                return _backlog.Count;
            }
        }
    }

    /// <summary>Called with the rows each time retained rows reach the database.</summary>
    public Action<int>? Recovered { get; set; }

    /// <summary>The journal rows are appended to (null: journal off, each row waits for its commit).</summary>
    public SpendJournal? Journal => _journal;

    /// <summary>Called with the rows of each batch that could not be committed and is retained (journal on).</summary>
    public Action<int>? RetainedRows { get; set; }

    /// <summary>Called with the journaled rows of each batch committed (journal on).</summary>
    public Action<int>? CommittedRows { get; set; }

    /// <summary>
    /// With a journal: completes once <paramref name="row"/> is in the journal (durable against a crash of the process),
    /// and it is committed in the background. Without: completes when it is committed; throws when it could not be (the
    /// row is then not kept: see <see cref="Retain"/>). <paramref name="committed"/> runs once the row's batch has
    /// committed or been retained (not when this throws).
    /// </summary>
    public Task WriteAsync(UsageRecord row, Func<Task>? committed = null)
    {
        if (_journal is { } journal)
        {
            long segment;
            try
            {
                segment = journal.Append(row);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
            {
                return Task.FromException(new SpendJournalException($"spend journal {journal.Folder}: cannot append: {e.Message}", e));
            }
            if (!_queue.Writer.TryWrite(new Item(row, null, segment, committed)))
            {
                // stopped after the drain: the row is in the journal, and the next start writes it
                return Task.CompletedTask;
            }
            return Task.CompletedTask;
        }
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new Item(row, done, -1, committed)))
        {
            done.SetException(new InvalidOperationException("the spend writer has stopped (the gateway is shutting down)"));
        }
        return done.Task;
    }

    /// <summary>Completes once every row handed to <see cref="WriteAsync"/> before it has been committed (or retained): what a spend query reads is then there.</summary>
    public Task FlushAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new Item(null, done, -1, null)))
        {
            done.SetResult();
        }
        _wake.TrySetResult();
        return done.Task;
    }

    /// <summary>The most rows kept in memory (a few hundred bytes each): past it a row is dropped, logged and counted, rather than the process running out of memory in a long outage.</summary>
    public const int MaxBacklog = 1_000_000;

    /// <summary>Keeps a row that could not be written, to write it once the database is back (or on drain); false when the backlog is full and the row is dropped.</summary>
    public bool Retain(UsageRecord row)
    {
        lock (_backlogLock)
        {
            if (_backlog.Count >= MaxBacklog)
            {
                return false;
            }
            _backlog.Add((row, -1));
            return true;
        }
    }

    /// <summary>With the journal, how long the loop gathers rows before a commit (no request waits for it): fewer, larger commits.</summary>
    public static readonly TimeSpan JournalGather = TimeSpan.FromMilliseconds(10);

    /// <summary>Cuts a journal gathering short: a flush asked for, or the writer stopping.</summary>
    private volatile TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task RunAsync()
    {
        var batch = new List<Item>();
        var markers = new List<TaskCompletionSource>();
        var rows = new List<UsageRecord>();
        while (await _queue.Reader.WaitToReadAsync())
        {
            if (_journal is not null && !_wake.Task.IsCompleted)
            {
                await Task.WhenAny(Task.Delay(JournalGather), _wake.Task);
            }
            if (_wake.Task.IsCompleted && !_queue.Reader.Completion.IsCompleted && !_stopping)
            {
                _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            batch.Clear();
            markers.Clear();
            rows.Clear();
            while (rows.Count < _maxBatch && _queue.Reader.TryRead(out var item))
            {
                if (item.Row is { } row)
                {
                    batch.Add(item);
                    rows.Add(row);
                }
                else
                {
                    markers.Add(item.Done!);
                }
            }
            Exception? failure = rows.Count == 0 ? null : _failure is { } known ? new SpendLogUnavailableException(known) : null;
            for (int attempt = 0; rows.Count > 0 && (failure is null || (attempt < 2 && _failure is null)); attempt++)
            {
                try
                {
                    await WriteLockedAsync([.. rows]);
                    failure = null;
                    break;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    failure = e;
                    LogWriteFailed(_log, batch.Count, attempt + 1, e.Message);
                    if (attempt == 0)
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(50));
                    }
                }
            }
            if (failure is not null && _failure is null)
            {
                _failure = failure.Message;
            }
            if (rows.Count > 0)
            {
                Batches++;
            }
            Settle(batch, failure);
            foreach (var marker in markers)
            {
                marker.SetResult();
            }
        }
    }

    /// <summary>A batch is committed (<paramref name="failure"/> null) or failed: callers and journal told, failed journaled rows retained, then the committed callbacks.</summary>
    private void Settle(List<Item> batch, Exception? failure)
    {
        int retained = 0, journaled = 0;
        foreach (var item in batch)
        {
            if (item.Done is { } done)
            {
                if (failure is null)
                {
                    done.SetResult();
                }
                else
                {
                    done.SetException(failure);
                }
                continue;
            }
            if (failure is null)
            {
                _journal!.Committed(item.Segment, 1);
                journaled++;
                continue;
            }
            lock (_backlogLock)
            {
                if (_backlog.Count < MaxBacklog)
                {
                    _backlog.Add((item.Row!, item.Segment));
                    retained++;
                }
            }
        }
        if (retained > 0)
        {
            RetainedRows?.Invoke(retained);
        }
        if (journaled > 0)
        {
            CommittedRows?.Invoke(journaled);
        }
        foreach (var item in batch)
        {
            if (item.Committed is { } committed && (failure is null || item.Done is null))
            {
                _ = RunCommittedAsync(committed);
            }
        }
    }

    private async Task RunCommittedAsync(Func<Task> committed)
    {
        try
        {
            await committed();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogCommittedFailed(_log, e.Message);
        }
    }

    private async Task WriteLockedAsync(IReadOnlyList<UsageRecord> rows)
    {
        await _writing.WaitAsync();
        try
        {
            await _store.WriteAsync(rows);
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>While writing fails or rows are retained: every second, writes the retained rows (or just reaches the database).</summary>
    private async Task ProbeAsync()
    {
        using var timer = new PeriodicTimer(ProbeEvery);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                if (_failure is not null || Backlog > 0)
                {
                    await FlushBacklogAsync();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Writes the retained rows (a batch at a time) or pings the database; true when everything retained is written.</summary>
    private async Task<bool> FlushBacklogAsync()
    {
        try
        {
            while (true)
            {
                List<(UsageRecord Row, long Segment)> rows;
                lock (_backlogLock)
                {
                    rows = [.. _backlog.Take(_maxBatch)];
                }
                if (rows.Count == 0)
                {
                    if (_failure is not null)
                    {
                        await _store.PingAsync();
                    }
                    break;
                }
                await WriteLockedAsync([.. rows.Select(r => r.Row)]);
                lock (_backlogLock)
                {
                    _backlog.RemoveRange(0, rows.Count);
                }
                foreach (var (_, segment) in rows)
                {
                    if (segment >= 0)
                    {
                        _journal?.Committed(segment, 1);
                    }
                }
                Recovered?.Invoke(rows.Count);
                LogRecovered(_log, rows.Count);
            }
            if (_failure is not null)
            {
                _failure = null;
                LogBack(_log);
            }
            return true;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _failure = e.Message;
            return false;
        }
    }

    /// <summary>Drain: writes what is queued, then the retained rows (trying for up to <paramref name="patience"/>); returns the rows that could not be written.</summary>
    public async Task<int> StopAsync(TimeSpan patience)
    {
        _stopping = true;
        _queue.Writer.TryComplete();
        _wake.TrySetResult();
        await _loop;
        await _stop.CancelAsync();
        await _probe;
        var deadline = DateTime.UtcNow + patience;
        while (Backlog > 0 && !await FlushBacklogAsync() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(ProbeEvery);
        }
        int lost = Backlog;
        if (_journal is { } journal)
        {
            long left = journal.Pending;
            journal.Close(committed: left == 0);
            if (left > 0)
            {
                LogKeptInJournal(_log, left, journal.Folder, _failure ?? "unknown");
            }
            lost = 0; // in the journal: the next start writes them
        }
        else if (lost > 0)
        {
            LogLost(_log, lost, _failure ?? "unknown");
        }
        await _store.CloseAsync();
        return lost;
    }

    public async ValueTask DisposeAsync() => await StopAsync(TimeSpan.FromSeconds(5));

    [LoggerMessage(EventId = 507, Level = LogLevel.Error, Message = "Settling a request's budget after its spend row failed: {Failure}")]
    private static partial void LogCommittedFailed(ILogger log, string failure);

    [LoggerMessage(EventId = 508, Level = LogLevel.Warning,
        Message = "Stopping with {Rows} spend rows not yet in the database ({Failure}): they stay in the spend journal {Folder}, and the next gateway started on this journal folder writes them")]
    private static partial void LogKeptInJournal(ILogger log, long rows, string folder, string failure);

    [LoggerMessage(EventId = 501, Level = LogLevel.Error, Message = "Writing {Rows} spend rows failed (try {Attempt}): {Failure}")]
    private static partial void LogWriteFailed(ILogger log, int rows, int attempt, string failure);

    [LoggerMessage(EventId = 503, Level = LogLevel.Warning, Message = "{Rows} retained spend rows written to the database")]
    private static partial void LogRecovered(ILogger log, int rows);

    [LoggerMessage(EventId = 504, Level = LogLevel.Warning, Message = "The spend log's database answers again")]
    private static partial void LogBack(ILogger log);

    [LoggerMessage(EventId = 505, Level = LogLevel.Critical, Message = "Stopping with {Rows} spend rows that could not be written: {Failure}")]
    private static partial void LogLost(ILogger log, int rows, string failure);
}

/// <summary>The spend log's database failed a moment ago and has not answered since: a row is not even tried.</summary>
public sealed class SpendLogUnavailableException(string reason) : Exception(reason);
