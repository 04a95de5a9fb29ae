using Microsoft.AspNetCore.Http;
using Sluice.Engine.Serving;
using Sluice.Hosting.Errors;
using Sluice.OpenAi;
using Sluice.Server.Generation;
using Sluice.Server.Hosting;
using Sluice.Server.Routes;

namespace Sluice.Server.Streaming;

/// <summary>
/// /v1/chat/completions with stream=true, as OpenAI sends it: first a chunk per choice with the
/// assistant role and empty content, then a <c>chat.completion.chunk</c> per token, the last of a choice
/// carrying its finish_reason; with include_usage a final chunk with no choices and the usage; then [DONE].
/// </summary>
internal sealed class ChatStream(ServingContext serving, GenerationSession session, LogprobsFormatter format, bool includeUsage)
{
    public async Task WriteAsync(HttpContext http)
    {
        var job = session.Job;
        var sse = new SseResponse(http.Response);
        await sse.BeginAsync();
        string id = ResponseIds.Chat(job.RequestId);
        long created = ResponseIds.Created(serving.Time);
        bool logprobs = job.Sampling.Logprobs is not null;
        for (int i = 0; i < job.Choices; i++)
        {
            var role = new ChatCompletionChunk(id, created, job.Model, [new ChatChunkChoice(i, new ChatDelta { Role = "assistant", Content = "" }, null, null)]);
            await sse.WriteAsync(role, OpenAiJson.Web.ChatCompletionChunk);
        }
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
            var lp = logprobs && ev.Token >= 0 ? new ChatLogprobs([format.Chat(ev)]) : null;
            bool last = ev.Finish is not null && ++finished == job.Choices;
            var delta = ev.Finish is not null && ev.Text.Length == 0 ? new ChatDelta() : new ChatDelta { Content = ev.Text };
            var chunk = new ChatCompletionChunk(id, created, job.Model,
                [new ChatChunkChoice(choice, delta, lp, ev.Finish is { } f ? FinishReasons.ToApi(f) : null) { StopReason = ev.StopReason }])
            {
                Metrics = last && !includeUsage ? session.Metrics() : null,
            };
            await sse.WriteAsync(chunk, OpenAiJson.Web.ChatCompletionChunk);
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
            var usage = new ChatCompletionChunk(id, created, job.Model, []) { Usage = session.Usage(), Metrics = session.Metrics() };
            await sse.WriteAsync(usage, OpenAiJson.Web.ChatCompletionChunk);
        }
        await sse.WriteDoneAsync();
        session.Publish(status);
    }
}
