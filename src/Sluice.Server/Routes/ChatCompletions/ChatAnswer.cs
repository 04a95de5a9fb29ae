using Sluice.OpenAi;
using Sluice.Server.Generation;
using Sluice.Server.Requests;

namespace Sluice.Server.Routes.ChatCompletions;

/// <summary>/v1/chat/completions answered whole: one assistant message per choice, with chat's log-probabilities.</summary>
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
            var message = new ChatResponseMessage("assistant", TextOf(i));
            string finish = FinishOf(session, i);
            if (Job.Tools is not null && finish == "stop" && ToolPlan.Parse(TextOf(i)) is var (name, arguments))
            {
                message = new ChatResponseMessage("assistant", null)
                {
                    ToolCalls = [new ToolCallBody { Id = ToolCallIds.Of(Job.RequestId, i, 0), Type = "function", Function = new FunctionCallBody { Name = name, Arguments = arguments } }],
                };
                finish = "tool_calls";
            }
            choices.Add(new ChatChoice(i, message, _entries is null ? null : new ChatLogprobs(_entries[i]), finish) { StopReason = session.StopReasonOf(i) });
        }
        return new ChatCompletionResponse(ResponseIds.Chat(Job.RequestId), ResponseIds.Created(time), Job.Model, choices, session.Usage())
        {
            Metrics = session.Metrics(),
        };
    }
}
