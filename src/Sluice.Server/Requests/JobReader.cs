using System.Text.Json;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Tracing;
using Sluice.OpenAi;
using Sluice.Server.Chat;
using Sluice.Server.Generation;

namespace Sluice.Server.Requests;

/// <summary>
/// A generation route's body, read and checked into its <see cref="GenerationJob"/>: prompts tokenized, sampling read,
/// limits checked, each failure a 400 naming its field. One method per route.
/// </summary>
internal static class JobReader
{
    /// <summary>
    /// max_tokens of /v1/completions and /v1/predict when the request gives none, --max-output-tokens is not set and the
    /// context has room: OpenAI's and vLLM's default for completions.
    /// </summary>
    private const int DefaultCompletionTokens = 16;

    /// <summary>POST /v1/completions: one choice per prompt and per n.</summary>
    public static GenerationJob Completion(CompletionRequestBody body, ResolvedRequest r)
    {
        RejectUnsupported(body);
        var (engine, loaded) = (r.Engine, r.Loaded);
        long started = r.Stages?.Start() ?? 0;
        var prompts = PromptReader.Read(body.Prompt, loaded.Tokenizer, body.AddSpecialTokens ?? true, engine.MaxModelLen);
        r.Stages?.Stop(RequestStage.Tokenize, started);
        int[] continuedIds = Continued(body.ContinuedTokenIds, body.Stream, body.N, loaded.Tokenizer);
        if (continuedIds.Length > 0)
        {
            if (prompts.Count != 1)
            {
                throw ApiException.BadRequest("continued_token_ids continues one choice: it needs one prompt, not an array.", "continued_token_ids");
            }
            if (body.ContinuedTokens is not null)
            {
                throw ApiException.BadRequest("Give continued_token_ids or continued_tokens, not both.", "continued_tokens");
            }
            prompts = [[.. prompts[0], .. continuedIds]];
        }
        int maxTokens = SamplingReader.MaxTokens(body.MaxTokens, prompts, engine.MaxModelLen, "prompt",
            fallback: r.MaxOutputTokens ?? DefaultCompletionTokens, ceiling: r.MaxOutputTokens);
        if (body.ContinuedTokens is { } continued && (continued < 0 || continued > prompts.Min(p => p.Length)))
        {
            throw ApiException.BadRequest($"continued_tokens must be from 0 to the prompt's length in tokens ({prompts.Min(p => p.Length)}), got {continued}.", "continued_tokens");
        }
        var sampling = SamplingReader.Read(body, maxTokens, SamplingReader.CompletionLogprobs(body.Logprobs), loaded.Generation, loaded.Tokenizer.VocabSize,
            ConstraintReader.Read(body, r));
        string? continuedText = null;
        if (body.ContinuedTokenIds is not null)
        {
            // the sampler resumes one draw per token already generated; the detokenizer and stop matcher after them
            sampling = sampling with { ContinuedTokens = continuedIds.Length };
            continuedText = ContinuedText(continuedIds, loaded.Tokenizer, sampling);
        }
        return new GenerationJob(r.RequestId, r.Route, r.Model, prompts, sampling)
        {
            ContinuedText = continuedText,
            Stream = body.Stream ?? false,
            Priority = body.Priority ?? 0,
            ReturnTokenIds = body.ReturnTokenIds ?? false,
        };
    }

    /// <summary>POST /v1/chat/completions: the messages rendered with the model's chat template, then generated like a completion.</summary>
    public static GenerationJob Chat(ChatCompletionRequestBody body, ResolvedRequest r, ChatPromptBuilder chat)
    {
        RejectUnsupported(body);
        if (body.ContinuedTokens is not null)
        {
            throw ApiException.BadRequest("continued_tokens is only accepted by /v1/completions (a continuation by token ids).", "continued_tokens");
        }
        var (engine, loaded) = (r.Engine, r.Loaded);
        int[] prompt = chat.Build(Conversation(body), engine.MaxModelLen, r.Stages);
        if (body.ContinuedChoice is not null && body.ContinuedTokenIds is null)
        {
            throw ApiException.BadRequest("continued_choice is only accepted with continued_token_ids.", "continued_choice");
        }
        if (body.ContinuedChoice is < 0)
        {
            throw ApiException.BadRequest($"continued_choice must be 0 or more, got {body.ContinuedChoice}.", "continued_choice");
        }
        int[] continued = Continued(body.ContinuedTokenIds, body.Stream, body.N, loaded.Tokenizer);
        if (continued.Length > 0)
        {
            prompt = [.. prompt, .. continued];
        }
        if (body.MaxTokens is not null && body.MaxCompletionTokens is not null && body.MaxTokens != body.MaxCompletionTokens)
        {
            throw ApiException.BadRequest("Give max_completion_tokens or max_tokens, not both with different values.", "max_completion_tokens");
        }
        int maxTokens = SamplingReader.MaxTokens(body.MaxCompletionTokens ?? body.MaxTokens, [prompt], engine.MaxModelLen, "messages",
            body.MaxCompletionTokens is null ? "max_tokens" : "max_completion_tokens", fallback: r.MaxOutputTokens, ceiling: r.MaxOutputTokens);
        var logprobs = SamplingReader.ChatLogprobs(body.Logprobs, body.TopLogprobs);
        var tools = ToolReader.Read(body, r, chat);
        var sampling = SamplingReader.Read(body, maxTokens, logprobs, loaded.Generation, loaded.Tokenizer.VocabSize, tools?.Grammar ?? ConstraintReader.Read(body, r));
        string? continuedText = null;
        if (body.ContinuedTokenIds is not null)
        {
            // the sampler resumes one draw per token already generated, the tokens in its penalty counts
            sampling = sampling with { ContinuedTokens = continued.Length };
            continuedText = ContinuedText(continued, loaded.Tokenizer, sampling);
        }
        return new GenerationJob(r.RequestId, r.Route, r.Model, [prompt], sampling)
        {
            ContinuedText = continuedText,
            ChoiceBase = body.ContinuedChoice ?? 0,
            Stream = body.Stream ?? false,
            Priority = body.Priority ?? 0,
            ReturnTokenIds = body.ReturnTokenIds ?? false,
            PromptField = "messages",
            Tools = tools,
        };
    }

    /// <summary>POST /v1/predict: the older <c>{"text": ...}</c> shape some clients still send; max_tokens defaults to 16.</summary>
    public static GenerationJob Predict(PredictRequestBody body, ResolvedRequest r)
    {
        if (body.Text is null)
        {
            throw ApiException.BadRequest("'text' (the prompt) is required.", "text");
        }
        var (engine, loaded) = (r.Engine, r.Loaded);
        int[] prompt;
        long started = r.Stages?.Start() ?? 0;
        try
        {
            prompt = loaded.Tokenizer.Encode(body.Text, addSpecial: true, parseSpecial: true, engine.MaxModelLen);
        }
        catch (Engine.Tokenization.TokenLimitExceededException ex)
        {
            throw PromptErrors.TooLong(ex, "text");
        }
        r.Stages?.Stop(RequestStage.Tokenize, started);
        if (prompt.Length == 0)
        {
            throw ApiException.BadRequest("The prompt is empty: it has no tokens.", "text");
        }
        int maxTokens = SamplingReader.MaxTokens(body.MaxTokens, [prompt], engine.MaxModelLen, "text",
            fallback: r.MaxOutputTokens ?? DefaultCompletionTokens, ceiling: r.MaxOutputTokens);
        var fields = new CompletionRequestBody { Temperature = body.Temperature, Seed = body.Seed };
        var sampling = SamplingReader.Read(fields, maxTokens, null, loaded.Generation, loaded.Tokenizer.VocabSize);
        return new GenerationJob(r.RequestId, r.Route, r.Model, [prompt], sampling) { PromptField = "text" };
    }

    /// <summary>
    /// A request's continued_token_ids (Sluice's continuation of a cut stream), checked: none gives none. Each problem is
    /// a 400 naming its field.
    /// </summary>
    private static int[] Continued(List<int>? ids, bool? stream, int? n, Engine.Tokenization.Tokenizer tokenizer)
    {
        if (ids is null)
        {
            return [];
        }
        if (stream != true)
        {
            throw ApiException.BadRequest("continued_token_ids continues a stream: it needs \"stream\": true.", "continued_token_ids");
        }
        if ((n ?? 1) != 1)
        {
            throw ApiException.BadRequest("continued_token_ids continues one choice: it needs n 1.", "continued_token_ids");
        }
        if (ids.Any(id => id < 0 || id >= tokenizer.VocabSize))
        {
            int bad = ids.First(id => id < 0 || id >= tokenizer.VocabSize);
            throw ApiException.BadRequest($"continued_token_ids: {bad} is not a token id of this model (0 to {tokenizer.VocabSize - 1}).", "continued_token_ids");
        }
        return [.. ids];
    }

    /// <summary>
    /// The text of the continued ids the client was sent: the detokenizer's output less what the stop strings' matcher
    /// held back (a possible start of a stop string; the engine's own replay holds it the same way and sends it with the
    /// next token). The chat parsers are primed with it. Ids that already hold a stop string are a 400.
    /// </summary>
    private static string ContinuedText(int[] ids, Engine.Tokenization.Tokenizer tokenizer, Engine.Sampling.SamplingParams sampling)
    {
        var detokenizer = tokenizer.CreateDetokenizer(startOfSequence: false);
        var stops = new Engine.Scheduling.StopStringMatcher(sampling.Stop);
        var text = new System.Text.StringBuilder();
        foreach (int id in ids)
        {
            var (emit, matched) = stops.Push(detokenizer.Push(id), sampling.IncludeStopStringInOutput);
            if (matched is not null)
            {
                throw ApiException.BadRequest($"continued_token_ids already hold the stop string \"{matched}\": the answer ended there.", "continued_token_ids");
            }
            text.Append(emit);
        }
        return text.ToString();
    }

    /// <summary>What a chat request asks the template to render (also read by POST /tokenize).</summary>
    public static ChatConversation Conversation(ChatCompletionRequestBody body)
    {
        return new ChatConversation(ChatMessageReader.Read(body.Messages))
        {
            AddGenerationPrompt = body.AddGenerationPrompt ?? true,
            ContinueFinalMessage = body.ContinueFinalMessage ?? false,
            ToolsJson = body.Tools is { ValueKind: JsonValueKind.Array } tools && body.ToolChoice?.ToString() != "none" ? tools.GetRawText() : null,
            TemplateKwargs = body.ChatTemplateKwargs?.ToDictionary(kv => kv.Key, kv => (object?)kv.Value) ?? [],
        };
    }

    private static void RejectUnsupported(ChatCompletionRequestBody body)
    {
        static bool Given(JsonElement? e) => e is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) };
        if (Given(body.Functions) || Given(body.FunctionCall))
        {
            throw ApiException.BadRequest("'functions' and 'function_call' (deprecated by OpenAI) are not supported: use 'tools' and 'tool_choice'.",
                Given(body.Functions) ? "functions" : "function_call");
        }
        if (body.Modalities is { ValueKind: JsonValueKind.Array } m && m.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String || x.GetString() != "text"))
        {
            throw ApiException.BadRequest("Only the \"text\" modality is supported by this server.", "modalities");
        }
        foreach (var (value, field) in new[] { (body.Audio, "audio"), (body.Prediction, "prediction"), (body.WebSearchOptions, "web_search_options") })
        {
            if (Given(value))
            {
                throw ApiException.BadRequest($"'{field}' is not supported by this server.", field);
            }
        }
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
