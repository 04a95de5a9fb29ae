using Microsoft.AspNetCore.Http;
using Sluice.Engine.Serving;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Requests;
using Sluice.Hosting.Tracing;
using Sluice.Server.Hosting;
using Sluice.Server.Routes;
using Sluice.Server.Streaming;

namespace Sluice.Server.Generation;

/// <summary>
/// The one flow every generation route takes once its request is read and validated into a <see cref="GenerationJob"/>:
/// admit it and submit it to the engine (a <see cref="GenerationSession"/>), answer it with the route's chunks (an
/// <see cref="SseResponse{TChunk}"/>) or its whole JSON body, and end it once: a completed request publishes 200 after
/// its answer is written; a failed one publishes the error's status and rethrows it for the error middleware to answer
/// (or, mid-stream, sends it as an event); one whose client left publishes 499 and answers nothing.
/// </summary>
internal sealed class GenerationFlow(ServingContext serving)
{
    /// <summary>Runs the job: streamed through <paramref name="chunks"/> when it asks to be and the route streams (chunks gives
    /// non-null), else answered whole by <paramref name="answer"/>.</summary>
    public async Task RunAsync<TChunk, TAnswer>(HttpContext http, LlmEngine engine, GenerationJob job,
        Func<ChunkFactory<TChunk>?> chunks, Func<AnswerBuilder<TAnswer>> answer)
    {
        using var session = Start(http, engine, job);
        if (job.Stream && chunks() is { } factory)
        {
            session.End(await new SseResponse<TChunk>(http.Response, factory).WriteAsync(session));
            return;
        }
        await AnswerAsync(http, session, answer());
    }

    private GenerationSession Start(HttpContext http, LlmEngine engine, GenerationJob job) =>
        GenerationSession.Start(serving, engine, job, http.RequestAborted, RequestInfo.Start(http), RequestStages.Of(http));

    private static async Task AnswerAsync<TAnswer>(HttpContext http, GenerationSession session, AnswerBuilder<TAnswer> answer)
    {
        await foreach (var e in session.ReadAsync())
        {
            answer.Add(e);
        }
        int status = session.Status;
        if (session.Error is { } error)
        {
            session.End(status);
            error.Recorded = true;
            throw error;
        }
        if (status == SluiceStatusCodes.ClientClosedRequest)
        {
            session.End(status); // the client left: nobody reads an answer
            return;
        }
        var stages = RequestStages.Of(http);
        var value = answer.Build(session);
        long started = stages?.Start() ?? 0;
        await Json.WriteAsync(http, value, answer.Type);
        stages?.Stop(RequestStage.JsonWrite, started);
        session.End(status);
    }
}
