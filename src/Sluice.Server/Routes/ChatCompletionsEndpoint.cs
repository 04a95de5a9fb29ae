using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Sluice.Engine.Serving;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Requests;
using Sluice.OpenAi;
using Sluice.Server.Chat;
using Sluice.Server.Generation;
using Sluice.Server.Hosting;
using Sluice.Server.Requests;
using Sluice.Server.Streaming;

namespace Sluice.Server.Routes;

/// <summary>POST /v1/chat/completions: the messages rendered with the model's chat template, then generated like a completion.</summary>
internal sealed class ChatCompletionsEndpoint(ServingContext serving)
{
    public const string Route = "/v1/chat/completions";

    public async Task HandleAsync(HttpContext http)
    {
        var body = await JsonBody.ReadAsync(http, serving.Options.MaxRequestBodySize, OpenAiJson.Default.ChatCompletionRequestBody);
        var engine = serving.RequireReady();
        string model = serving.ResolveModel(body.Model);
        var loaded = serving.Host.Model!;
        int[] prompt = serving.Host.Chat!.Build(Conversation(body), engine.MaxModelLen);
        if (body.MaxTokens is not null && body.MaxCompletionTokens is not null && body.MaxTokens != body.MaxCompletionTokens)
        {
            throw ApiException.BadRequest("Give max_completion_tokens or max_tokens, not both with different values.", "max_completion_tokens");
        }
        int maxTokens = SamplingReader.MaxTokens(body.MaxCompletionTokens ?? body.MaxTokens, [prompt], engine.MaxModelLen, "messages",
            body.MaxCompletionTokens is null ? "max_tokens" : "max_completion_tokens");
        var logprobs = SamplingReader.ChatLogprobs(body.Logprobs, body.TopLogprobs);
        var sampling = SamplingReader.Read(body, maxTokens, logprobs, loaded.Generation, loaded.Tokenizer.VocabSize);
        var job = new GenerationJob(RequestInfo.Id(http), Route, model, [prompt], sampling) { Stream = body.Stream ?? false, Priority = body.Priority ?? 0, PromptField = "messages" };
        using var session = GenerationSession.Start(serving, engine, job, http.RequestAborted, RequestInfo.Start(http));
        var format = new LogprobsFormatter(loaded.Tokenizer);
        if (job.Stream)
        {
            await new ChatStream(serving, session, format, body.StreamOptions?.IncludeUsage ?? false).WriteAsync(http);
            return;
        }
        var texts = Enumerable.Range(0, job.Choices).Select(_ => new StringBuilder()).ToArray();
        var entries = logprobs is null ? null : Enumerable.Range(0, job.Choices).Select(_ => new List<ChatTokenLogprob>()).ToArray();
        await foreach (var (choice, _, ev) in session.ReadAsync())
        {
            if (entries != null && ev.Token >= 0)
            {
                entries[choice].Add(format.Chat(ev));
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
            session.Publish(499);
            return;
        }
        var choices = new List<ChatChoice>(job.Choices);
        for (int i = 0; i < job.Choices; i++)
        {
            choices.Add(new ChatChoice(i, new ChatResponseMessage("assistant", texts[i].ToString()), entries is null ? null : new ChatLogprobs(entries[i]),
                FinishReasons.ToApi(session.FinishOf(i) ?? FinishReason.Stop))
            {
                StopReason = session.StopReasonOf(i),
            });
        }
        var response = new ChatCompletionResponse(ResponseIds.Chat(job.RequestId), ResponseIds.Created(serving.Time), model, choices, session.Usage())
        {
            Metrics = session.Metrics(),
        };
        await Json.WriteAsync(http, response, OpenAiJson.Web.ChatCompletionResponse);
        session.Publish(StatusCodes.Status200OK);
    }

    internal static ChatConversation Conversation(ChatCompletionRequestBody body)
    {
        if (body.ToolChoice is { ValueKind: JsonValueKind.Object } or { ValueKind: JsonValueKind.String } && body.ToolChoice.Value.ToString() is not ("none" or "auto"))
        {
            throw ApiException.BadRequest("tool_choice other than \"none\" or \"auto\" is not supported: this server does not parse tool calls from the output.", "tool_choice");
        }
        return new ChatConversation(ChatMessageReader.Read(body.Messages))
        {
            AddGenerationPrompt = body.AddGenerationPrompt ?? true,
            ContinueFinalMessage = body.ContinueFinalMessage ?? false,
            ToolsJson = body.Tools is { ValueKind: JsonValueKind.Array } tools && body.ToolChoice?.ToString() != "none" ? tools.GetRawText() : null,
            TemplateKwargs = body.ChatTemplateKwargs?.ToDictionary(kv => kv.Key, kv => (object?)kv.Value) ?? [],
        };
    }
}
