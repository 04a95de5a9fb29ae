using Microsoft.AspNetCore.Http;
using Sluice.Engine.Serving;
using Sluice.Hosting.Errors;
using Sluice.OpenAi;
using Sluice.Server.Generation;
using Sluice.Server.Hosting;
using Sluice.Server.Routes;

namespace Sluice.Server.Streaming;

/// <summary>
/// /v1/completions with stream=true: a <c>text_completion</c> chunk per token of each choice, the last of a
/// choice carrying its finish_reason; with include_usage a final chunk with no choices and the usage; then [DONE].
/// </summary>
internal sealed class CompletionStream(ServingContext serving, GenerationSession session, LogprobsFormatter format, bool includeUsage)
{
    public async Task WriteAsync(HttpContext http)
    {
        var job = session.Job;
        var sse = new SseResponse(http.Response);
        await sse.BeginAsync();
        string id = ResponseIds.Completion(job.RequestId);
        long created = ResponseIds.Created(serving.Time);
        bool logprobs = job.Sampling.Logprobs is not null;
        var offsets = new int[job.Choices];
        int finished = 0;
        await foreach (var (choice, _, ev) in session.ReadAsync())
        {
            if (ev.Finish is FinishReason.Cancelled or FinishReason.Error)
            {
                continue; // reported once, as an error event, below
            }
            if (ev.Finish is null && ev.Text.Length == 0 && !logprobs)
            {
                continue; // text held back (a possible stop string, half a character)
            }
            CompletionLogprobs? lp = null;
            if (logprobs && ev.Token >= 0)
            {
                lp = CompletionLogprobs.Empty();
                format.AppendCompletion(lp, ev, offsets[choice]);
            }
            offsets[choice] += ev.Text.Length;
            bool last = ev.Finish is not null && ++finished == job.Choices;
            var chunk = new CompletionResponse(id, created, job.Model,
                [new CompletionChoice(choice, ev.Text, lp, ev.Finish is { } f ? FinishReasons.ToApi(f) : null) { StopReason = ev.StopReason }])
            {
                Metrics = last && !includeUsage ? session.Metrics() : null,
            };
            await sse.WriteAsync(chunk, OpenAiJson.Web.CompletionResponse);
        }
        int status = StatusCodes.Status200OK;
        if (session.Error is { } error)
        {
            await sse.WriteErrorAsync(error);
            status = error.Status;
        }
        else if (session.Outcome != RequestOutcome.Completed)
        {
            status = 499;
        }
        if (includeUsage && status == StatusCodes.Status200OK)
        {
            var usage = new CompletionResponse(id, created, job.Model, []) { Usage = session.Usage(), Metrics = session.Metrics() };
            await sse.WriteAsync(usage, OpenAiJson.Web.CompletionResponse);
        }
        await sse.WriteDoneAsync();
        session.Publish(status);
    }
}
