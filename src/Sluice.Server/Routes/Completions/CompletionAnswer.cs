using Sluice.OpenAi;
using Sluice.Server.Generation;

namespace Sluice.Server.Routes.Completions;

/// <summary>/v1/completions answered whole: one choice per prompt and per n, with its text and log-probabilities.</summary>
internal sealed class CompletionAnswer(GenerationJob job, TimeProvider time, LogprobsFormatter format)
    : AnswerBuilder<CompletionResponse>(job, OpenAiJson.Web.CompletionResponse)
{
    private readonly CompletionLogprobs[]? _logprobs = job.Sampling.Logprobs is null ? null : [.. Enumerable.Range(0, job.Choices).Select(_ => CompletionLogprobs.Empty())];

    protected override void OnToken(ChoiceEvent e, int textOffset)
    {
        if (_logprobs != null)
        {
            format.AppendCompletion(_logprobs[e.Choice], e.Event, textOffset);
        }
    }

    public override CompletionResponse Build(GenerationSession session)
    {
        var choices = Enumerable.Range(0, Job.Choices)
            .Select(i => new CompletionChoice(i, TextOf(i), _logprobs?[i], FinishOf(session, i)) { StopReason = session.StopReasonOf(i) })
            .ToList();
        return new CompletionResponse(ResponseIds.Completion(Job.RequestId), ResponseIds.Created(time), Job.Model, choices)
        {
            Usage = session.Usage(),
            Metrics = session.Metrics(),
        };
    }
}
