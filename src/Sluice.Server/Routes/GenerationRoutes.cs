using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Sluice.OpenAi;
using Sluice.Server.Generation;
using Sluice.Server.Hosting;
using Sluice.Server.Requests;

namespace Sluice.Server.Routes;

/// <summary>The generation routes: each a <see cref="GenerationEndpoint{TBody, TChunk, TAnswer}"/> with its body, job, chunks and answer.</summary>
internal static class GenerationRoutes
{
    public static void Map(Action<string, RequestDelegate> post, ServingContext serving, GenerationFlow flow)
    {
        post("/v1/completions", new GenerationEndpoint<CompletionRequestBody, CompletionResponse, CompletionResponse>(serving, flow, OpenAiJson.Default.CompletionRequestBody)
        {
            ModelOf = b => b.Model,
            Job = JobReader.Completion,
            Chunks = (job, body, format) => new Completions.CompletionChunks(job, ResponseIds.Created(serving.Time), format, body.StreamOptions?.IncludeUsage ?? false),
            Answer = (job, _, format) => new Completions.CompletionAnswer(job, serving.Time, format),
        }.HandleAsync);
        post("/v1/chat/completions", new GenerationEndpoint<ChatCompletionRequestBody, ChatCompletionChunk, ChatCompletionResponse>(serving, flow, OpenAiJson.Default.ChatCompletionRequestBody)
        {
            ModelOf = b => b.Model,
            Job = (body, r) => JobReader.Chat(body, r, serving.Host.Chat!) with { Reasoning = serving.Options.ReasoningParser },
            Chunks = (job, body, format) => new ChatCompletions.ChatChunks(job, ResponseIds.Created(serving.Time), format, body.StreamOptions?.IncludeUsage ?? false),
            Answer = (job, _, format) => new ChatCompletions.ChatAnswer(job, serving.Time, format),
        }.HandleAsync);
        post("/v1/responses", new GenerationEndpoint<ResponsesRequestBody, JsonNode, JsonNode>(serving, flow, OpenAiJson.Default.ResponsesRequestBody)
        {
            ModelOf = b => b.Model,
            Job = (body, r) => JobReader.Chat(ResponsesReader.ToChat(body), r, serving.Host.Chat!),
            Chunks = (job, _, _) => new Responses.ResponsesChunks(job, ResponseIds.Created(serving.Time)),
            Answer = (job, _, _) => new Responses.ResponsesAnswer(job, serving.Time),
        }.HandleAsync);
        post("/v1/embeddings", new GenerationEndpoint<EmbeddingRequestBody, EmbeddingResponse, EmbeddingResponse>(serving, flow, OpenAiJson.Default.EmbeddingRequestBody)
        {
            ModelOf = b => b.Model,
            Job = (body, r) => EmbeddingReader.Read(body, r, serving.Options.EmbeddingPooling),
            Answer = (job, body, _) => new Embeddings.EmbeddingAnswer(job, base64: body.EncodingFormat == "base64"),
        }.HandleAsync);
        post("/v1/predict", new GenerationEndpoint<PredictRequestBody, PredictResponse, PredictResponse>(serving, flow, OpenAiJson.Default.PredictRequestBody)
        {
            ModelOf = b => b.Model,
            Job = JobReader.Predict,
            Answer = (job, _, _) => new Predict.PredictAnswer(job),
        }.HandleAsync);
    }
}
