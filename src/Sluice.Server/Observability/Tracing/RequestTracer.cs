using System.Diagnostics;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Metrics;

namespace Sluice.Server.Observability.Tracing;

/// <summary>
/// Turns each finished generation request into spans, children of the HTTP request's span: "generate"
/// (engine arrival to the end) with "queue", "prefill" and "decode" inside it, each at its real start and
/// end. Attributes follow OpenTelemetry's gen_ai conventions, plus the request id.
/// </summary>
public sealed class RequestTracer : IDisposable
{
    public const string SourceName = "Sluice.Server";

    private readonly ActivitySource _source = new(SourceName);
    private readonly ServerTelemetry _telemetry;
    private readonly TimeProvider _time;

    public RequestTracer(ServerTelemetry telemetry, ServerOptions options)
    {
        _telemetry = telemetry;
        _time = options.Time;
        telemetry.RequestCompleted += Trace;
    }

    private void Trace(RequestRecord r)
    {
        if (r.EngineArrival is not { } arrival || !_source.HasListeners())
        {
            return;
        }
        var end = _time.GetUtcNow();
        var httpStart = end - r.Duration;
        var start = httpStart + arrival;
        using var generate = _source.StartActivity("generate", ActivityKind.Internal, parentContext: default, startTime: start);
        if (generate is null)
        {
            return;
        }
        generate.SetTag("sluice.request_id", r.RequestId);
        generate.SetTag("gen_ai.operation.name", r.Route.EndsWith("chat/completions", StringComparison.Ordinal) ? "chat" : "text_completion");
        generate.SetTag("gen_ai.request.model", r.Model);
        generate.SetTag("gen_ai.usage.input_tokens", r.PromptTokens);
        generate.SetTag("gen_ai.usage.output_tokens", r.CompletionTokens);
        generate.SetTag("gen_ai.response.finish_reasons", r.FinishReasons.ToArray());
        generate.SetTag("sluice.cached_prompt_tokens", r.CachedPromptTokens);
        generate.SetTag("sluice.outcome", LabelValues.Snake(r.Outcome));
        generate.SetTag("http.response.status_code", r.StatusCode);
        if (r.Outcome != RequestOutcome.Completed)
        {
            generate.SetStatus(ActivityStatusCode.Error, r.Error ?? LabelValues.Snake(r.Outcome));
        }
        var queueEnd = start + (r.QueueTime ?? (end - start));
        Span("queue", start, queueEnd);
        if (r.PrefillTime is { } prefill)
        {
            Span("prefill", queueEnd, queueEnd + prefill);
        }
        if (r.TimeToFirstToken is { } ttft && r.DecodeTime is { } decode)
        {
            Span("decode", start + ttft, start + ttft + decode, ("sluice.decoded_tokens", r.CompletionTokens));
        }
        generate.SetEndTime(end.UtcDateTime);
    }

    private void Span(string name, DateTimeOffset start, DateTimeOffset end, params (string Key, object? Value)[] tags)
    {
        using var span = _source.StartActivity(name, ActivityKind.Internal, parentContext: default, startTime: start);
        if (span is null)
        {
            return;
        }
        foreach (var (key, value) in tags)
        {
            span.SetTag(key, value);
        }
        span.SetEndTime(end.UtcDateTime);
    }

    public void Dispose()
    {
        _telemetry.RequestCompleted -= Trace;
        _source.Dispose();
    }
}
