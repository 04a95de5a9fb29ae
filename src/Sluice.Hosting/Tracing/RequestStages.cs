using Microsoft.AspNetCore.Http;

namespace Sluice.Hosting.Tracing;

/// <summary>The CPU-side stages of a request, outside the engine's model steps: what a slow request spends besides inference.</summary>
public enum RequestStage
{
    /// <summary>Reading the request body off the connection.</summary>
    BodyRead,

    /// <summary>Parsing the body as JSON, checking its strings and binding it to the route's type.</summary>
    JsonParse,

    /// <summary>Rendering chat messages with the model's chat template.</summary>
    TemplateRender,

    /// <summary>Turning prompt text into token ids.</summary>
    Tokenize,

    /// <summary>Turning generated token ids into text, stop strings included (in the engine loop, once per token).</summary>
    Detokenize,

    /// <summary>Serializing and writing a whole JSON answer.</summary>
    JsonWrite,

    /// <summary>Serializing and writing server-sent events (once per chunk).</summary>
    SseWrite,
}

/// <summary>One stage's share of a request: when it first ran, its summed time and how often it ran.</summary>
public readonly record struct StageTiming(RequestStage Stage, DateTimeOffset Start, TimeSpan Total, int Count)
{
    /// <summary>The stage's label value and span name, e.g. "template_render".</summary>
    public string Name => RequestStages.NameOf(Stage);
}

/// <summary>
/// Times the <see cref="RequestStage"/>s of one request, summing a stage that runs many times (a write per SSE chunk).
/// A host puts one on the request's features (<see cref="Attach"/>); shared steps such as the JSON body reader time
/// themselves when one is there. Used by one request flow at a time, so not thread-safe.
/// </summary>
public sealed class RequestStages(TimeProvider time)
{
    private static readonly string[] Names = ["body_read", "json_parse", "template_render", "tokenize", "detokenize", "json_write", "sse_write"];

    private readonly (long StartTimestamp, long Ticks, int Count)[] _stages = new (long, long, int)[Names.Length];

    /// <summary>Every stage's name, in <see cref="RequestStage"/> order (the metric's label values).</summary>
    public static IReadOnlyList<string> AllNames => Names;

    public static string NameOf(RequestStage stage) => Names[(int)stage];

    /// <summary>The stages of <paramref name="context"/>'s request, or null when its host does not time them.</summary>
    public static RequestStages? Of(HttpContext context) => context.Features.Get<RequestStages>();

    /// <summary>Starts timing <paramref name="context"/>'s request and returns its stages.</summary>
    public static RequestStages Attach(HttpContext context, TimeProvider time)
    {
        var stages = new RequestStages(time);
        context.Features.Set(stages);
        return stages;
    }

    /// <summary>A timestamp to pass to <see cref="Stop"/>.</summary>
    public long Start() => time.GetTimestamp();

    /// <summary>Adds the time since <paramref name="started"/> (from <see cref="Start"/>) to <paramref name="stage"/>.</summary>
    public void Stop(RequestStage stage, long started)
    {
        long now = time.GetTimestamp();
        Add(stage, started, now - started, 1);
    }

    /// <summary>Adds time measured elsewhere (the engine's detokenizing): <paramref name="ticks"/> in the time provider's timestamp units over <paramref name="count"/> runs.</summary>
    public void Add(RequestStage stage, long firstStartTimestamp, long ticks, int count)
    {
        ref var s = ref _stages[(int)stage];
        if (s.Count == 0)
        {
            s.StartTimestamp = firstStartTimestamp;
        }
        s.Ticks += ticks;
        s.Count += count;
    }

    /// <summary>The stages that ran, each once with its first start (wall clock) and summed time.</summary>
    public IReadOnlyList<StageTiming> Snapshot()
    {
        var now = time.GetUtcNow();
        long nowStamp = time.GetTimestamp();
        var list = new List<StageTiming>();
        for (int i = 0; i < _stages.Length; i++)
        {
            var s = _stages[i];
            if (s.Count > 0)
            {
                list.Add(new StageTiming((RequestStage)i, now - time.GetElapsedTime(s.StartTimestamp, nowStamp), Elapsed(s.Ticks), s.Count));
            }
        }
        return list;
    }

    private TimeSpan Elapsed(long ticks) => TimeSpan.FromSeconds((double)ticks / time.TimestampFrequency);
}
