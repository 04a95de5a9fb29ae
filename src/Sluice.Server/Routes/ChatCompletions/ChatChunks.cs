using Sluice.OpenAi;
using Sluice.Server.Generation;

namespace Sluice.Server.Routes.ChatCompletions;

/// <summary>
/// /v1/chat/completions with stream=true, as OpenAI sends it: first a chunk per choice with the assistant role and
/// empty content, then a <c>chat.completion.chunk</c> per token whose delta carries the text.
/// </summary>
internal sealed class ChatChunks(GenerationJob job, long created, LogprobsFormatter format, bool includeUsage)
    : ChunkFactory<ChatCompletionChunk>(OpenAiJson.Web.ChatCompletionChunk, ResponseIds.Chat(job.RequestId), created, job.Model, includeUsage)
{
    /// <summary>Per choice, when the request forces a tool call: its text becomes tool_calls deltas.</summary>
    private readonly ToolCallStream?[]? _calls = job.Tools is null ? null : new ToolCallStream?[job.Choices];

    public override IEnumerable<ChatCompletionChunk> Opening() =>
        Enumerable.Range(0, job.Choices).Select(i => new ChatCompletionChunk(Id, Created, Model,
            [new ChatChunkChoice(i, new ChatDelta { Role = "assistant", Content = "" }, null, null)]));

    public override ChatCompletionChunk Token(ChoiceEvent e, RequestMetrics? metrics)
    {
        var ev = e.Event;
        var logprobs = job.Sampling.Logprobs is not null && ev.Token >= 0 ? new ChatLogprobs([format.Chat(ev)]) : null;
        // the finishing event of a choice whose text was all sent carries no content at all, as OpenAI's
        var delta = ev.Finish is not null && ev.Text.Length == 0 ? new ChatDelta() : new ChatDelta { Content = ev.Text };
        string? finish = FinishReasons.ToApi(ev.Finish);
        if (_calls is not null)
        {
            _calls[e.Choice] ??= new ToolCallStream(ToolCallIds.Of(job.RequestId, e.Choice, 0));
            delta = new ChatDelta { ToolCalls = _calls[e.Choice]!.Push(ev.Text, ev.Finish is not null) };
            finish = finish == "stop" ? "tool_calls" : finish;
        }
        var choice = new ChatChunkChoice(e.Choice, delta, logprobs, finish) { StopReason = ev.StopReason, TokenIds = job.ReturnTokenIds && ev.Token >= 0 ? [ev.Token] : null };
        return new ChatCompletionChunk(Id, Created, Model, [choice]) { Metrics = metrics };
    }

    public override ChatCompletionChunk Usage(Usage usage, RequestMetrics? metrics) => new(Id, Created, Model, []) { Usage = usage, Metrics = metrics };
}
