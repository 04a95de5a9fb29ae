using Sluice.OpenAi;
using Sluice.Server.Generation;

namespace Sluice.Server.Routes.Completions;

/// <summary>/v1/completions with stream=true: a <c>text_completion</c> chunk per token of each choice, no opening.</summary>
internal sealed class CompletionChunks(GenerationJob job, long created, LogprobsFormatter format, bool includeUsage)
    : ChunkFactory<CompletionResponse>(OpenAiJson.Web.CompletionResponse, ResponseIds.Completion(job.RequestId), created, job.Model, includeUsage)
{
    /// <summary>Where each choice's next text starts: the text_offset of its log-probabilities.</summary>
    private readonly int[] _offsets = new int[job.Choices];

    public override CompletionResponse Token(ChoiceEvent e, RequestMetrics? metrics)
    {
        var ev = e.Event;
        CompletionLogprobs? logprobs = null;
        if (job.Sampling.Logprobs is not null && ev.Token >= 0)
        {
            logprobs = CompletionLogprobs.Empty();
            format.AppendCompletion(logprobs, ev, _offsets[e.Choice]);
        }
        _offsets[e.Choice] += ev.Text.Length;
        var choice = new CompletionChoice(e.Choice, ev.Text, logprobs, FinishReasons.ToApi(ev.Finish)) { StopReason = ev.StopReason, TokenIds = job.ReturnTokenIds && ev.Token >= 0 ? [ev.Token] : null };
        return new CompletionResponse(Id, Created, Model, [choice]) { Metrics = metrics };
    }

    public override CompletionResponse Usage(Usage usage, RequestMetrics? metrics) => new(Id, Created, Model, []) { Usage = usage, Metrics = metrics };
}
