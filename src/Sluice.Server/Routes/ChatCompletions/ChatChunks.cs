using Sluice.OpenAi;
using Sluice.Server.Chat.Reasoning;
using Sluice.Server.Chat.ToolCalls;
using Sluice.Server.Generation;

namespace Sluice.Server.Routes.ChatCompletions;

/// <summary>
/// /v1/chat/completions with stream=true, as OpenAI sends it: first a chunk per choice with the assistant role and
/// empty content, then a <c>chat.completion.chunk</c> per token whose delta carries the text. With tools, each choice's
/// text goes through a <see cref="ToolCallParser"/>: its deltas carry the content and the calls it makes certain. With
/// <c>--reasoning-parser</c>, a <see cref="ReasoningParser"/> first takes the thinking out as reasoning_content deltas.
/// </summary>
internal sealed class ChatChunks(GenerationJob job, long created, LogprobsFormatter format, bool includeUsage)
    : ChunkFactory<ChatCompletionChunk>(OpenAiJson.Web.ChatCompletionChunk, ResponseIds.Chat(job.RequestId), created, job.Model, includeUsage)
{
    private readonly ToolCallParser?[]? _parsers = job.Tools is null ? null : new ToolCallParser?[job.Choices];
    private readonly ReasoningParser?[]? _thinking = job.Reasoning is null ? null : new ReasoningParser?[job.Choices];

    public override IEnumerable<ChatCompletionChunk> Opening() =>
        Enumerable.Range(0, job.Choices).Select(i => new ChatCompletionChunk(Id, Created, Model,
            [new ChatChunkChoice(job.ChoiceBase + i, new ChatDelta { Role = "assistant", Content = "" }, null, null)]));

    public override ChatCompletionChunk Token(ChoiceEvent e, RequestMetrics? metrics)
    {
        var ev = e.Event;
        var logprobs = job.Sampling.Logprobs is not null && ev.Token >= 0 ? new ChatLogprobs([format.Chat(ev)]) : null;
        // the finishing event of a choice whose text was all sent carries no content at all, as OpenAI's
        var delta = ev.Finish is not null && ev.Text.Length == 0 ? new ChatDelta() : new ChatDelta { Content = ev.Text };
        string? finish = FinishReasons.ToApi(ev.Finish);
        string text = ev.Text;
        string? reasoning = null;
        if (_thinking is not null)
        {
            var thinking = _thinking[e.Choice] ??= Primed(new ReasoningParser(job.Reasoning!.Value));
            (reasoning, text) = thinking.Push(ev.Text, ev.Finish is not null);
            delta = new ChatDelta { Content = text.Length > 0 ? text : null, ReasoningContent = reasoning.Length > 0 ? reasoning : null };
        }
        if (_parsers is not null)
        {
            int choice = e.Choice;
            var parser = _parsers[choice] ??= Primed(job.Tools!.Parser(job.RequestId, job.ChoiceBase + choice));
            var piece = parser.Push(text, ev.Finish is not null);
            delta = new ChatDelta
            {
                Content = piece.Content.Length > 0 ? piece.Content.ToString() : null,
                ReasoningContent = reasoning is { Length: > 0 } ? reasoning : null,
                ToolCalls = piece.Calls.Count > 0 ? piece.Calls : null,
            };
            finish = finish == "stop" && parser.Calls > 0 ? "tool_calls" : finish;
        }
        var chunkChoice = new ChatChunkChoice(job.ChoiceBase + e.Choice, delta, logprobs, finish) { StopReason = ev.StopReason, TokenIds = job.ReturnTokenIds && ev.Token >= 0 ? [ev.Token] : null };
        return new ChatCompletionChunk(Id, Created, Model, [chunkChoice]) { Metrics = metrics };
    }

    /// <summary>A continued answer's parser, fed the output the client already has (what it gives back was sent then).</summary>
    private ReasoningParser Primed(ReasoningParser thinking)
    {
        if (job.ContinuedText is { Length: > 0 } text)
        {
            thinking.Push(text, final: false);
        }
        return thinking;
    }

    private ToolCallParser Primed(ToolCallParser parser)
    {
        if (job.ContinuedText is { Length: > 0 } text)
        {
            // behind a reasoning parser, only the text past the thinking reaches this one
            string past = job.Reasoning is { } format ? new ReasoningParser(format).Push(text, final: false).Content : text;
            parser.Push(past, final: false);
        }
        return parser;
    }

    public override ChatCompletionChunk Usage(Usage usage, RequestMetrics? metrics) => new(Id, Created, Model, []) { Usage = usage, Metrics = metrics };
}
