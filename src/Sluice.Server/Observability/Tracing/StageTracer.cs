using System.Diagnostics;

namespace Sluice.Server.Observability.Tracing;

/// <summary>
/// Turns each finished request's CPU-side stages into spans named after the stage ("body_read", "json_parse",
/// "template_render", "tokenize", "detokenize", "json_write", "sse_write"), children of the HTTP request's span. A
/// stage that ran once is its real span; one that ran many times (a detokenize per token, a write per SSE chunk)
/// starts at its first run and lasts its summed time, with the number of runs in <c>sluice.stage.count</c>.
/// Cheap when nothing listens: the source hands out no activities.
/// </summary>
public sealed class StageTracer : IDisposable
{
    private readonly ActivitySource _source = new(RequestTracer.SourceName);
    private readonly ServerTelemetry _telemetry;

    public StageTracer(ServerTelemetry telemetry)
    {
        _telemetry = telemetry;
        telemetry.RequestCompleted += Trace;
    }

    private void Trace(RequestRecord r)
    {
        if (r.Stages.Count == 0 || !_source.HasListeners())
        {
            return;
        }
        foreach (var stage in r.Stages)
        {
            using var span = _source.StartActivity(stage.Name, ActivityKind.Internal, parentContext: default, startTime: stage.Start);
            if (span is null)
            {
                continue;
            }
            span.SetTag("sluice.request_id", r.RequestId);
            span.SetTag("sluice.stage.count", stage.Count);
            span.SetEndTime((stage.Start + stage.Total).UtcDateTime);
        }
    }

    public void Dispose()
    {
        _telemetry.RequestCompleted -= Trace;
        _source.Dispose();
    }
}
