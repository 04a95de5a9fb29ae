using Sluice.OpenAi;
using Sluice.Server.Chat.Reasoning;
using Sluice.Server.Generation;

namespace Sluice.Server.Routes.ChatCompletions;

/// <summary>
/// /v1/chat/completions answered whole: one assistant message per choice, with chat's log-probabilities. With tools, the
/// text goes through the same parser a stream's does, so the calls and content agree with what a stream would send.
/// </summary>
internal sealed class ChatAnswer(GenerationJob job, TimeProvider time, LogprobsFormatter format)
    : AnswerBuilder<ChatCompletionResponse>(job, OpenAiJson.Web.ChatCompletionResponse)
{
    /// <summary>Each choice's token entries, when logprobs were asked for.</summary>
    private readonly List<ChatTokenLogprob>[]? _entries = job.Sampling.Logprobs is null ? null : [.. Enumerable.Range(0, job.Choices).Select(_ => new List<ChatTokenLogprob>())];

    protected override void OnToken(ChoiceEvent e, int textOffset) => _entries?[e.Choice].Add(format.Chat(e.Event));

    public override ChatCompletionResponse Build(GenerationSession session)
    {
        var choices = new List<ChatChoice>(Job.Choices);
        for (int i = 0; i < Job.Choices; i++)
        {
            string text = TextOf(i);
            string? reasoning = null;
            if (Job.Reasoning is { } thinking)
            {
                (reasoning, text) = new ReasoningParser(thinking).Push(text, final: true);
            }
            var message = new ChatResponseMessage("assistant", reasoning is null || text.Length > 0 ? text : null);
            string finish = FinishOf(session, i);
            if (Job.Tools is { } tools)
            {
                var piece = tools.Parser(Job.RequestId, i).Push(text, final: true);
                var calls = piece.Calls.GroupBy(d => d.Index).Select(g => new ToolCallBody
                {
                    Id = g.First().Id,
                    Type = "function",
                    Function = new FunctionCallBody { Name = g.First().Function.Name, Arguments = string.Concat(g.Select(d => d.Function.Arguments)) },
                }).ToList();
                string content = piece.Content.ToString();
                message = new ChatResponseMessage("assistant", calls.Count > 0 && content.Length == 0 ? null : content) { ToolCalls = calls.Count > 0 ? calls : null };
                finish = calls.Count > 0 && finish == "stop" ? "tool_calls" : finish;
            }
            message = message with { ReasoningContent = reasoning is { Length: > 0 } ? reasoning : null };
            choices.Add(new ChatChoice(i, message, _entries is null ? null : new ChatLogprobs(_entries[i]), finish) { StopReason = session.StopReasonOf(i) });
        }
        return new ChatCompletionResponse(ResponseIds.Chat(Job.RequestId), ResponseIds.Created(time), Job.Model, choices, session.Usage())
        {
            Metrics = session.Metrics(),
        };
    }
}
