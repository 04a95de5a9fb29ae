using Microsoft.Extensions.Logging;
using Sluice.Hosting.Metrics;

namespace Sluice.Server.Observability.Logging;

/// <summary>
/// One log line per finished request at Information: its id (the gateway's X-Request-Id when given), route,
/// model, status and outcome, finish reasons, token counts, queue/prefill/decode times; a request that ended in an
/// error logs event 301 with an <c>error=</c> field, the others event 300 without one.
/// </summary>
public sealed partial class RequestLog : IDisposable
{
    private readonly ServerTelemetry _telemetry;
    private readonly ILogger _log;

    public RequestLog(ServerTelemetry telemetry, ILogger<RequestLog> log)
    {
        _telemetry = telemetry;
        _log = log;
        telemetry.RequestCompleted += Write;
    }

    private void Write(RequestRecord r)
    {
        if (!_log.IsEnabled(LogLevel.Information))
        {
            return;
        }
        // two messages, so `grep error=` (and the JSON log's error field) finds only the requests that have one
        if (r.Error is { } error)
        {
            LogFailedRequest(_log, r.RequestId, r.Route, r.Model ?? "", r.StatusCode, LabelValues.Snake(r.Outcome), string.Join(',', r.FinishReasons),
                r.PromptTokens, r.CachedPromptTokens, r.CompletionTokens, Ms(r.QueueTime), Ms(r.PrefillTime), Ms(r.DecodeTime), Ms(r.TimeToFirstToken),
                Ms(r.Duration), r.Stream, error);
            return;
        }
        LogRequest(_log, r.RequestId, r.Route, r.Model ?? "", r.StatusCode, LabelValues.Snake(r.Outcome), string.Join(',', r.FinishReasons),
            r.PromptTokens, r.CachedPromptTokens, r.CompletionTokens, Ms(r.QueueTime), Ms(r.PrefillTime), Ms(r.DecodeTime), Ms(r.TimeToFirstToken),
            Ms(r.Duration), r.Stream);
    }

    private static double? Ms(TimeSpan? t) => t is { } v ? Math.Round(v.TotalMilliseconds, 3) : null;

    public void Dispose() => _telemetry.RequestCompleted -= Write;

    [LoggerMessage(EventId = 300, EventName = "request", Level = LogLevel.Information,
        Message = "Request {RequestId} {Route} {Status} {Outcome} model={Model} finish={FinishReasons} prompt={PromptTokens} (cached {CachedPromptTokens}) output={CompletionTokens} queue={QueueMs}ms prefill={PrefillMs}ms decode={DecodeMs}ms ttft={TtftMs}ms total={DurationMs}ms stream={Stream}")]
    private static partial void LogRequest(ILogger log, string requestId, string route, string model, int status, string outcome, string finishReasons,
        int promptTokens, int cachedPromptTokens, int completionTokens, double? queueMs, double? prefillMs, double? decodeMs, double? ttftMs,
        double? durationMs, bool stream);

    [LoggerMessage(EventId = 301, EventName = "request_error", Level = LogLevel.Information,
        Message = "Request {RequestId} {Route} {Status} {Outcome} model={Model} finish={FinishReasons} prompt={PromptTokens} (cached {CachedPromptTokens}) output={CompletionTokens} queue={QueueMs}ms prefill={PrefillMs}ms decode={DecodeMs}ms ttft={TtftMs}ms total={DurationMs}ms stream={Stream} error={Error}")]
    private static partial void LogFailedRequest(ILogger log, string requestId, string route, string model, int status, string outcome, string finishReasons,
        int promptTokens, int cachedPromptTokens, int completionTokens, double? queueMs, double? prefillMs, double? decodeMs, double? ttftMs,
        double? durationMs, bool stream, string error);
}
