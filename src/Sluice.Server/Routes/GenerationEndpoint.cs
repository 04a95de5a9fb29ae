using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Sluice.Hosting.Requests;
using Sluice.Hosting.Tracing;
using Sluice.Server.Generation;
using Sluice.Server.Hosting;
using Sluice.Server.Requests;

namespace Sluice.Server.Routes;

/// <summary>
/// One generation route (completions, chat, responses, predict, embeddings), all taking the same steps: the body read (bounded, every
/// string checked), the engine ready, the model resolved, the route's <see cref="GenerationJob"/> read from the body,
/// then the one <see cref="GenerationFlow"/> with the route's chunks (null: the route never streams) and answer.
/// </summary>
internal sealed class GenerationEndpoint<TBody, TChunk, TAnswer>(ServingContext serving, GenerationFlow flow, JsonTypeInfo<TBody> bodyType)
    where TBody : class
{
    /// <summary>The body's <c>model</c> field.</summary>
    public required Func<TBody, string?> ModelOf { get; init; }

    public required Func<TBody, ResolvedRequest, GenerationJob> Job { get; init; }

    public Func<GenerationJob, TBody, LogprobsFormatter, ChunkFactory<TChunk>>? Chunks { get; init; }

    public required Func<GenerationJob, TBody, LogprobsFormatter, AnswerBuilder<TAnswer>> Answer { get; init; }

    public async Task HandleAsync(HttpContext http)
    {
        var stages = RequestStages.Attach(http, serving.Time);
        var body = await JsonBody.ReadAsync(http, serving.Options.MaxRequestBodySize, bodyType);
        var engine = serving.RequireReady();
        var request = new ResolvedRequest(RequestInfo.Id(http), RequestInfo.Route(http), serving.ResolveModel(ModelOf(body)), engine, serving.Host.Model!, serving.Grammars,
            serving.Options.MaxOutputTokens, stages);
        var job = Job(body, request);
        var format = new LogprobsFormatter(request.Loaded.Tokenizer);
        await flow.RunAsync(http, engine, job, () => Chunks?.Invoke(job, body, format), () => Answer(job, body, format));
    }
}
