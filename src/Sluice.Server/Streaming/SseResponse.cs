using Microsoft.AspNetCore.Http;
using Sluice.Engine.Serving;
using Sluice.Hosting.Tracing;
using Sluice.OpenAi;
using Sluice.Server.Generation;

namespace Sluice.Server.Streaming;

/// <summary>
/// A generation request answered with stream=true, as OpenAI streams (the chunks themselves come from the endpoint's
/// <see cref="ChunkFactory{TChunk}"/>): the headers at once, the opening chunks, a chunk per token with text (held-back
/// text, a possible stop string or half a character, sends nothing), the last of each choice carrying its
/// finish_reason; a failure as one error event; with include_usage a last chunk with the usage; then [DONE].
/// </summary>
internal sealed class SseResponse<TChunk>(HttpResponse response, ChunkFactory<TChunk> chunks)
{
    private readonly RequestStages? _stages = RequestStages.Of(response.HttpContext);

    /// <summary>Streams the session to its end and returns the status the request ends with.</summary>
    public async Task<int> WriteAsync(GenerationSession session)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var sse = new SseWriter(response.BodyWriter, response.HttpContext.RequestAborted);
        await sse.FlushAsync(); // the headers: the client knows at once that the request was accepted
        foreach (var chunk in chunks.Opening())
        {
            await Write(sse, chunk, chunks.Type);
        }
        bool logprobs = session.Job.Sampling.Logprobs is not null;
        int finished = 0;
        await foreach (var e in session.ReadAsync())
        {
            var ev = e.Event;
            if (ev.Finish is FinishReason.Cancelled or FinishReason.Error)
            {
                continue; // reported once, as an error event, below
            }
            if (ev.Finish is null && ev.Text.Length == 0 && !logprobs && !session.Job.ReturnTokenIds)
            {
                continue; // text held back (a possible stop string, half a character); with return_token_ids its id still goes out
            }
            bool last = ev.Finish is not null && ++finished == session.Job.Choices;
            foreach (var chunk in chunks.Tokens(e, last && !chunks.IncludeUsage ? session.Metrics() : null))
            {
                await Write(sse, chunk, chunks.Type);
            }
        }
        int status = session.Status;
        if (session.Error is { } error)
        {
            await Write(sse, error.ToResponse(), OpenAiJson.Web.ErrorResponse);
        }
        if (chunks.IncludeUsage && status == StatusCodes.Status200OK)
        {
            await Write(sse, chunks.Usage(session.Usage(), session.Metrics()), chunks.Type);
        }
        if (status == StatusCodes.Status200OK)
        {
            foreach (var chunk in chunks.Closing(session))
            {
                await Write(sse, chunk, chunks.Type);
            }
        }
        if (chunks.SendsDone)
        {
            await Timed(sse.WriteDoneAsync);
        }
        return status;
    }

    private Task Write<T>(SseWriter sse, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) => Timed(() => sse.WriteAsync(value, type));

    /// <summary>Serializes and sends one event, its time added to the request's sse_write stage.</summary>
    private async Task Timed(Func<Task> write)
    {
        long started = _stages?.Start() ?? 0;
        await write();
        _stages?.Stop(RequestStage.SseWrite, started);
    }
}
