using System.Text;
using Microsoft.AspNetCore.Http;
using Sluice.Engine.Serving;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Requests;
using Sluice.OpenAi;
using Sluice.Server.Generation;
using Sluice.Server.Hosting;
using Sluice.Server.Requests;

namespace Sluice.Server.Routes;

/// <summary>POST /v1/predict: the older <c>{"text": ...}</c> → <c>{"text": completion}</c> shape some clients still send.</summary>
internal sealed class PredictEndpoint(ServingContext serving)
{
    public const string Route = "/v1/predict";
    private const int DefaultMaxTokens = 16;

    public async Task HandleAsync(HttpContext http)
    {
        var body = await JsonBody.ReadAsync(http, serving.Options.MaxRequestBodySize, OpenAiJson.Default.PredictRequestBody);
        var engine = serving.RequireReady();
        string model = serving.ResolveModel(body.Model);
        if (body.Text is null)
        {
            throw ApiException.BadRequest("'text' (the prompt) is required.", "text");
        }
        var loaded = serving.Host.Model!;
        int[] prompt;
        try
        {
            prompt = loaded.Tokenizer.Encode(body.Text, addSpecial: true, parseSpecial: true, engine.MaxModelLen);
        }
        catch (Engine.Tokenization.TokenLimitExceededException ex)
        {
            throw PromptErrors.TooLong(ex, "text");
        }
        if (prompt.Length == 0)
        {
            throw ApiException.BadRequest("The prompt is empty: it has no tokens.", "text");
        }
        int maxTokens = SamplingReader.MaxTokens(body.MaxTokens ?? Math.Min(DefaultMaxTokens, engine.MaxModelLen - prompt.Length), [prompt], engine.MaxModelLen, "text");
        var fields = new CompletionRequestBody { Temperature = body.Temperature, Seed = body.Seed };
        var sampling = SamplingReader.Read(fields, maxTokens, null, loaded.Generation, loaded.Tokenizer.VocabSize);
        var job = new GenerationJob(RequestInfo.Id(http), Route, model, [prompt], sampling) { PromptField = "text" };
        using var session = GenerationSession.Start(serving, engine, job, http.RequestAborted, RequestInfo.Start(http));
        var text = new StringBuilder();
        await foreach (var (_, _, ev) in session.ReadAsync())
        {
            text.Append(ev.Text);
        }
        if (session.Error is { } error)
        {
            session.Publish(error.Status);
            error.Recorded = true;
            throw error;
        }
        if (session.Outcome != RequestOutcome.Completed)
        {
            session.Publish(499);
            return;
        }
        var response = new PredictResponse(ResponseIds.Completion(job.RequestId), model, text.ToString(), FinishReasons.ToApi(session.FinishOf(0) ?? FinishReason.Stop), session.Usage());
        await Json.WriteAsync(http, response, OpenAiJson.Web.PredictResponse);
        session.Publish(StatusCodes.Status200OK);
    }
}
