using System.Text;
using Microsoft.AspNetCore.Http;
using Sluice.Engine.Serving;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Requests;
using Sluice.OpenAi;
using Sluice.Server.Generation;
using Sluice.Server.Hosting;
using Sluice.Server.Requests;
using Sluice.Server.Streaming;

namespace Sluice.Server.Routes;

/// <summary>POST /v1/completions: one choice per prompt and per n, streamed or whole.</summary>
internal sealed class CompletionsEndpoint(ServingContext serving)
{
    public const string Route = "/v1/completions";

    public async Task HandleAsync(HttpContext http)
    {
        var body = await JsonBody.ReadAsync(http, serving.Options.MaxRequestBodySize, OpenAiJson.Default.CompletionRequestBody);
        var engine = serving.RequireReady();
        string model = serving.ResolveModel(body.Model);
        RejectUnsupported(body);
        var loaded = serving.Host.Model!;
        var prompts = PromptReader.Read(body.Prompt, loaded.Tokenizer, body.AddSpecialTokens ?? true, engine.MaxModelLen);
        int maxTokens = SamplingReader.MaxTokens(body.MaxTokens, prompts, engine.MaxModelLen, "prompt");
        var sampling = SamplingReader.Read(body, maxTokens, SamplingReader.CompletionLogprobs(body.Logprobs), loaded.Generation, loaded.Tokenizer.VocabSize);
        var job = new GenerationJob(RequestInfo.Id(http), Route, model, prompts, sampling) { Stream = body.Stream ?? false, Priority = body.Priority ?? 0 };
        using var session = GenerationSession.Start(serving, engine, job, http.RequestAborted, RequestInfo.Start(http));
        var format = new LogprobsFormatter(loaded.Tokenizer);
        if (job.Stream)
        {
            await new CompletionStream(serving, session, format, body.StreamOptions?.IncludeUsage ?? false).WriteAsync(http);
            return;
        }
        var texts = Enumerable.Range(0, job.Choices).Select(_ => new StringBuilder()).ToArray();
        var logprobs = sampling.Logprobs is null ? null : Enumerable.Range(0, job.Choices).Select(_ => CompletionLogprobs.Empty()).ToArray();
        await foreach (var (choice, _, ev) in session.ReadAsync())
        {
            if (logprobs != null && ev.Token >= 0)
            {
                format.AppendCompletion(logprobs[choice], ev, texts[choice].Length);
            }
            texts[choice].Append(ev.Text);
        }
        if (session.Error is { } error)
        {
            session.Publish(error.Status);
            error.Recorded = true;
            throw error;
        }
        if (session.Outcome != RequestOutcome.Completed)
        {
            session.Publish(499); // the client left; nobody reads an answer
            return;
        }
        var choices = new List<CompletionChoice>(job.Choices);
        for (int i = 0; i < job.Choices; i++)
        {
            choices.Add(new CompletionChoice(i, texts[i].ToString(), logprobs?[i], FinishReasons.ToApi(session.FinishOf(i) ?? FinishReason.Stop))
            {
                StopReason = session.StopReasonOf(i),
            });
        }
        var response = new CompletionResponse(ResponseIds.Completion(job.RequestId), ResponseIds.Created(serving.Time), model, choices)
        {
            Usage = session.Usage(),
            Metrics = session.Metrics(),
        };
        await Json.WriteAsync(http, response, OpenAiJson.Web.CompletionResponse);
        session.Publish(StatusCodes.Status200OK);
    }

    private static void RejectUnsupported(CompletionRequestBody body)
    {
        if (body.Echo == true)
        {
            throw ApiException.BadRequest("'echo' is not supported by this server.", "echo");
        }
        if (body.Suffix is { Length: > 0 })
        {
            throw ApiException.BadRequest("'suffix' is not supported by this server.", "suffix");
        }
        if (body.BestOf is { } bestOf && bestOf != (body.N ?? 1))
        {
            throw ApiException.BadRequest("'best_of' other than n is not supported by this server.", "best_of");
        }
    }
}
