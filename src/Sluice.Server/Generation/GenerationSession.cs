using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Sluice.Engine.Serving;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Tracing;
using Sluice.OpenAi;
using Sluice.Server.Admission;
using Sluice.Server.Hosting;
using Sluice.Server.Observability;

namespace Sluice.Server.Generation;

/// <summary>
/// One admitted generation request in the engine: its admission slots, its engine requests (one per
/// prompt), the cancellation that ends them (client gone, --request-timeout, shutdown), and what it
/// produced, from which the usage, the per-request metrics and the <see cref="RequestRecord"/> are made.
/// Read <see cref="ReadAsync"/> to the end, then dispose.
/// </summary>
public sealed class GenerationSession : IDisposable
{
    private readonly ServingContext _context;
    private readonly GenerationJob _job;
    private readonly AdmissionTicket _ticket;
    private readonly CancellationToken _clientAborted;
    private readonly CancellationTokenSource? _timeout;
    private readonly CancellationTokenSource _cancel;
    private readonly List<RequestHandle> _handles = [];
    private readonly FinishReason?[] _finish;
    private readonly string?[] _stopReasons;
    private readonly long[] _lastTokenAt;
    private readonly bool[] _prefilled;
    private readonly List<double> _gaps = [];
    private readonly long _httpStart;
    private readonly RequestStages? _stages;
    private Exception? _failure;
    private int _finished;
    private int _ended;
    private bool _disposed;

    private GenerationSession(ServingContext context, GenerationJob job, AdmissionTicket ticket, CancellationToken clientAborted, long httpStart, RequestStages? stages)
    {
        _stages = stages;
        _context = context;
        _job = job;
        _ticket = ticket;
        _clientAborted = clientAborted;
        _httpStart = httpStart;
        if (context.Options.RequestTimeout is { } limit)
        {
            _timeout = new CancellationTokenSource(limit, context.Time);
        }
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(clientAborted, context.AbortAll, _timeout?.Token ?? CancellationToken.None);
        _finish = new FinishReason?[job.Choices];
        _stopReasons = new string?[job.Choices];
        _lastTokenAt = new long[job.Choices];
        _prefilled = new bool[job.Prompts.Count];
    }

    public GenerationJob Job => _job;
    public int PromptTokens { get; private set; }
    public int CompletionTokens { get; private set; }
    public int CachedPromptTokens => _handles.Sum(h => h.State.CachedPromptTokens);

    /// <summary>How the request ended; valid once <see cref="ReadAsync"/> is done.</summary>
    public RequestOutcome Outcome { get; private set; }

    public FinishReason? FinishOf(int choice) => _finish[choice];
    public string? StopReasonOf(int choice) => _stopReasons[choice];

    /// <summary>Admits the job (429 when the queue is full) and submits its prompts to the engine; the engine's detokenizing is added to <paramref name="stages"/> at the end.</summary>
    public static GenerationSession Start(ServingContext context, LlmEngine engine, GenerationJob job, CancellationToken clientAborted, long httpStart,
        RequestStages? stages = null)
    {
        var ticket = context.Admission.Admit(job.Choices, job.Prompts.Sum(p => p.Length));
        var session = new GenerationSession(context, job, ticket, clientAborted, httpStart, stages);
        try
        {
            for (int i = 0; i < job.Prompts.Count; i++)
            {
                session._handles.Add(engine.Submit(new GenerationRequest
                {
                    Id = job.Prompts.Count == 1 ? job.RequestId : $"{job.RequestId}-{i}",
                    PromptTokens = job.Prompts[i],
                    Sampling = job.Sampling,
                    Priority = job.Priority,
                    CancellationToken = session._cancel.Token,
                    Embedding = job.Embedding,
                    ResumesOutput = job.ContinuedText is not null,
                }));
                session.PromptTokens += job.Prompts[i].Length;
            }
        }
        catch (RequestRejectedException ex)
        {
            session.Dispose();
            throw ex.Reason switch
            {
                EngineRejection.TooLong => ApiException.TooLong(ex.Message, job.PromptField),
                EngineRejection.ShuttingDown => ApiException.Unavailable("The server is shutting down.", AdmissionRejection.Draining),
                _ => ApiException.BadRequest(ex.Message),
            };
        }
        return session;
    }

    /// <summary>Every event of every sequence, in the order the engine produced them; ends when all sequences have.</summary>
    public async IAsyncEnumerable<ChoiceEvent> ReadAsync()
    {
        var reader = Merge();
        while (true)
        {
            bool more;
            try
            {
                more = await reader.WaitToReadAsync();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _failure = ex;
                break;
            }
            while (reader.TryRead(out var item))
            {
                yield return Track(item);
            }
            if (!more)
            {
                break;
            }
        }
        Outcome = DecideOutcome();
        if (Outcome == RequestOutcome.Completed)
        {
            _ticket.MarkFinished();
        }
    }

    /// <summary>The error to report for an outcome other than Completed or Cancelled.</summary>
    public ApiException? Error => Outcome switch
    {
        RequestOutcome.TimedOut => ApiException.Timeout(_context.Options.RequestTimeout ?? TimeSpan.Zero),
        RequestOutcome.Aborted => ApiException.Unavailable("The server shut down before the request finished (--shutdown-timeout).", AdmissionRejection.Draining),
        RequestOutcome.Failed => ApiException.Internal($"The engine failed while generating: {_failure?.Message ?? "a sequence ended with an error"}"),
        _ => null,
    };

    public Usage Usage() => new(PromptTokens, CompletionTokens, PromptTokens + CompletionTokens)
    {
        PromptTokensDetails = new PromptTokensDetails(CachedPromptTokens),
    };

    /// <summary>Queue, prefill and decode times (--enable-per-request-metrics); null when that flag is off.</summary>
    public RequestMetrics? Metrics()
    {
        if (!_context.Options.EnablePerRequestMetrics)
        {
            return null;
        }
        var t = Timings();
        return new RequestMetrics
        {
            QueueMs = Ms(t.Queue),
            PrefillMs = Ms(t.Prefill),
            DecodeMs = Ms(t.Decode),
            TtftMs = Ms(t.Ttft),
            E2eMs = Ms(t.E2e),
            PromptTokens = PromptTokens,
            CachedPromptTokens = CachedPromptTokens,
            CompletionTokens = CompletionTokens,
        };
    }

    /// <summary>
    /// The status the request ends with, once <see cref="ReadAsync"/> is done: 200 when it completed, the error's when
    /// it failed, timed out or was aborted, 499 when the client left.
    /// </summary>
    public int Status => Error?.Status ?? (Outcome == RequestOutcome.Completed ? StatusCodes.Status200OK : SluiceStatusCodes.ClientClosedRequest);

    /// <summary>Ends the request: publishes its record with <paramref name="status"/>, once (a second call does nothing).</summary>
    public void End(int status)
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }
        var t = Timings();
        if (_stages is not null && _handles.Count > 0 && _handles.Sum(h => h.State.DetokenizeCount) is > 0 and int detokenized)
        {
            _stages.Add(RequestStage.Detokenize, _handles.Min(h => h.State.FirstToken ?? long.MaxValue), _handles.Sum(h => h.State.DetokenizeTicks), detokenized);
        }
        _context.Telemetry.Publish(new RequestRecord
        {
            RequestId = _job.RequestId,
            Route = _job.Route,
            Model = _job.Model,
            Stream = _job.Stream,
            StatusCode = status,
            Outcome = Outcome,
            Rejection = Outcome switch
            {
                RequestOutcome.Cancelled => AdmissionRejection.Cancelled,
                RequestOutcome.TimedOut => AdmissionRejection.Timeout,
                _ => null,
            },
            FinishReasons = [.. _finish.Select(f => f is { } r ? FinishReasons.ToApi(r) : "abort")],
            PromptTokens = PromptTokens,
            CachedPromptTokens = CachedPromptTokens,
            CompletionTokens = CompletionTokens,
            EngineArrival = _handles.Count > 0 ? _context.Time.GetElapsedTime(_httpStart, _handles.Min(h => h.State.Arrival)) : null,
            QueueTime = t.Queue,
            PrefillTime = t.Prefill,
            DecodeTime = t.Decode,
            TimeToFirstToken = t.Ttft,
            InterTokenLatencies = _gaps,
            Duration = _context.Time.GetElapsedTime(_httpStart),
            Error = Error?.Message,
            Stages = _stages?.Snapshot() ?? [],
        });
    }

    private ChoiceEvent Track((int Prompt, TokenEvent Event) item)
    {
        var (prompt, ev) = item;
        int choice = prompt * _job.Sampling.N + ev.SequenceIndex;
        if (ev.Embedding != null && !_prefilled[prompt])
        {
            _prefilled[prompt] = true;
            _ticket.PrefillDone(_job.Prompts[prompt].Length);
        }
        if (ev.Token >= 0)
        {
            CompletionTokens++;
            long now = _context.Time.GetTimestamp();
            if (_lastTokenAt[choice] != 0)
            {
                _gaps.Add(_context.Time.GetElapsedTime(_lastTokenAt[choice], now).TotalSeconds);
            }
            _lastTokenAt[choice] = now;
            if (!_prefilled[prompt])
            {
                _prefilled[prompt] = true;
                _ticket.PrefillDone(_job.Prompts[prompt].Length);
            }
        }
        if (ev.Finish is { } finish && _finish[choice] is null)
        {
            _finish[choice] = finish;
            _stopReasons[choice] = ev.StopReason;
            _finished++;
        }
        return new ChoiceEvent(choice, prompt, ev);
    }

    private RequestOutcome DecideOutcome()
    {
        if (_failure != null || _finish.Any(f => f == FinishReason.Error))
        {
            return RequestOutcome.Failed;
        }
        if (_finished == _finish.Length && !_finish.Any(f => f == FinishReason.Cancelled))
        {
            return RequestOutcome.Completed;
        }
        if (_timeout?.IsCancellationRequested == true && !_clientAborted.IsCancellationRequested)
        {
            return RequestOutcome.TimedOut;
        }
        if (_context.AbortAll.IsCancellationRequested && !_clientAborted.IsCancellationRequested)
        {
            return RequestOutcome.Aborted;
        }
        return RequestOutcome.Cancelled;
    }

    private ChannelReader<(int, TokenEvent)> Merge()
    {
        var channel = Channel.CreateUnbounded<(int, TokenEvent)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = _handles.Count == 1 });
        int open = _handles.Count;
        for (int i = 0; i < _handles.Count; i++)
        {
            _ = Pump(_handles[i], i, channel.Writer,
                () =>
                {
                    if (Interlocked.Decrement(ref open) == 0)
                    {
                        channel.Writer.TryComplete();
                    }
                },
                ex => channel.Writer.TryComplete(ex));
        }
        return channel.Reader;
    }

    private static async Task Pump(RequestHandle handle, int prompt, ChannelWriter<(int, TokenEvent)> writer, Action done, Action<Exception> failed)
    {
        try
        {
            await foreach (var ev in handle.Events.ReadAllAsync())
            {
                writer.TryWrite((prompt, ev));
            }
            done();
        }
        catch (Exception ex)
        {
            failed(ex);
        }
    }

    private (TimeSpan? Queue, TimeSpan? Prefill, TimeSpan? Decode, TimeSpan? Ttft, TimeSpan? E2e) Timings()
    {
        if (_handles.Count == 0)
        {
            return default;
        }
        var time = _context.Time;
        long arrival = _handles.Min(h => h.State.Arrival);
        long? scheduled = _handles.Min(h => h.State.FirstScheduled);
        long? first = _handles.Min(h => h.State.FirstToken);
        long? last = _handles.Max(h => h.State.LastToken);
        long end = _handles.All(h => h.State.Finished.HasValue) ? _handles.Max(h => h.State.Finished!.Value) : time.GetTimestamp();
        return (
            scheduled is { } s ? time.GetElapsedTime(arrival, s) : null,
            scheduled is { } s2 && first is { } f ? time.GetElapsedTime(s2, f) : null,
            first is { } f2 && last is { } l ? time.GetElapsedTime(f2, l) : null,
            first is { } f3 ? time.GetElapsedTime(arrival, f3) : null,
            time.GetElapsedTime(arrival, end));
    }

    private static double Ms(TimeSpan? t) => Math.Round(t?.TotalMilliseconds ?? 0, 3);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (_finished < _finish.Length)
        {
            _cancel.Cancel(); // the engine aborts what is left and frees its blocks
        }
        _ticket.Dispose();
        _cancel.Dispose();
        _timeout?.Dispose();
    }
}
