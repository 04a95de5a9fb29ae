using System.Text.Json.Nodes;
using Sluice.OpenAi;
using Sluice.Server.Chat.ToolCalls;
using Sluice.Server.Generation;

namespace Sluice.Server.Routes.Responses;

/// <summary>/v1/responses answered whole: the response object, its output parsed as the stream's is.</summary>
internal sealed class ResponsesAnswer(GenerationJob job, TimeProvider time)
    : AnswerBuilder<JsonNode>(job, OpenAiJson.Web.JsonNode)
{
    public override JsonNode Build(GenerationSession session)
    {
        var document = new ResponseDocument(Job, ResponseIds.Created(time));
        var piece = Job.Tools is { } tools ? tools.Parser(Job.RequestId, 0).Push(TextOf(0), final: true) : null;
        document.Add(piece?.Content.ToString() ?? TextOf(0), piece?.Calls ?? []);
        document.Close([]);
        return document.Build(ResponsesChunks.Status(session), session.Usage());
    }
}

/// <summary>
/// /v1/responses with stream=true: OpenAI's semantic events (response.created, response.in_progress, output items
/// added, text and arguments deltas, their done events, response.completed), each with its sequence_number; no [DONE].
/// </summary>
internal sealed class ResponsesChunks(GenerationJob job, long created)
    : ChunkFactory<JsonNode>(OpenAiJson.Web.JsonNode, "resp_" + job.RequestId, created, job.Model, includeUsage: false)
{
    private readonly ResponseDocument _document = new(job, created);
    private readonly ToolCallParser? _parser = job.Tools?.Parser(job.RequestId, 0);
    private int _sequence;

    public override bool SendsDone => false;

    public override IEnumerable<JsonNode> Opening() =>
        Numbered([
            ResponseDocument.Event("response.created", ("response", _document.Build("in_progress", null))),
            ResponseDocument.Event("response.in_progress", ("response", _document.Build("in_progress", null))),
        ]);

    public override JsonNode Token(ChoiceEvent e, RequestMetrics? metrics) => throw new NotSupportedException("Responses send Tokens.");

    public override IEnumerable<JsonNode> Tokens(ChoiceEvent e, RequestMetrics? metrics)
    {
        var ev = e.Event;
        var piece = _parser?.Push(ev.Text, ev.Finish is not null);
        var events = _document.Add(piece?.Content.ToString() ?? ev.Text, piece?.Calls ?? []);
        if (ev.Finish is not null)
        {
            _document.Close(events);
        }
        return Numbered(events);
    }

    public override IEnumerable<JsonNode> Closing(GenerationSession session)
    {
        string status = Status(session);
        var response = _document.Build(status, session.Usage());
        return Numbered([ResponseDocument.Event(status == "completed" ? "response.completed" : "response.incomplete", ("response", response))]);
    }

    public override JsonNode Usage(Usage usage, RequestMetrics? metrics) => throw new NotSupportedException("Responses carry their usage in response.completed.");

    /// <summary>completed, or incomplete when the output was cut by max_output_tokens.</summary>
    public static string Status(GenerationSession session) =>
        session.FinishOf(0) == Engine.Serving.FinishReason.Length ? "incomplete" : "completed";

    private List<JsonNode> Numbered(List<JsonObject> events)
    {
        foreach (var e in events)
        {
            e["sequence_number"] = _sequence++;
        }
        return [.. events];
    }
}
