using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Requests;
using Sluice.OpenAi;
using Sluice.Server.Hosting;
using Sluice.Server.Requests;

namespace Sluice.Server.Routes;

/// <summary>POST /tokenize and /detokenize (vLLM's shapes): the model's tokenizer, without generating.</summary>
internal sealed class TokenizerEndpoints(ServingContext serving)
{
    public async Task TokenizeAsync(HttpContext http)
    {
        var body = await JsonBody.ReadAsync(http, serving.Options.MaxRequestBodySize, OpenAiJson.Default.TokenizeRequestBody);
        var engine = serving.RequireReady();
        serving.ResolveModel(body.Model);
        int[] tokens;
        string text;
        if (body.Messages is not null)
        {
            if (body.Prompt is not null)
            {
                throw ApiException.BadRequest("Send 'prompt' or 'messages', not both.", "prompt");
            }
            var conversation = new ChatCompletionRequestBody
            {
                Messages = body.Messages,
                AddGenerationPrompt = body.AddGenerationPrompt,
                ContinueFinalMessage = body.ContinueFinalMessage,
                Tools = body.Tools,
                ChatTemplateKwargs = body.ChatTemplateKwargs,
            };
            if (body.AddSpecialTokens is not null)
            {
                throw ApiException.BadRequest("'add_special_tokens' applies to 'prompt' only: with 'messages' the chat template decides.", "add_special_tokens");
            }
            if (body.Tools is { ValueKind: not (JsonValueKind.Array or JsonValueKind.Null) })
            {
                throw ApiException.BadRequest("'tools' must be an array of tools.", "tools");
            }
            (text, tokens) = serving.Host.Chat!.BuildRendered(JobReader.Conversation(conversation), engine.MaxModelLen);
        }
        else if (body.Prompt is not null)
        {
            foreach (var (given, field) in new[] { (body.AddGenerationPrompt is not null, "add_generation_prompt"), (body.ContinueFinalMessage is not null, "continue_final_message"),
                (body.Tools is not null, "tools"), (body.ChatTemplateKwargs is not null, "chat_template_kwargs") })
            {
                if (given)
                {
                    throw ApiException.BadRequest($"'{field}' applies to 'messages' only; this request sends a 'prompt'.", field);
                }
            }
            text = body.Prompt;
            try
            {
                tokens = serving.Host.Model!.Tokenizer.Encode(body.Prompt, body.AddSpecialTokens ?? true, parseSpecial: true, engine.MaxModelLen);
            }
            catch (Engine.Tokenization.TokenLimitExceededException ex)
            {
                throw PromptErrors.TooLong(ex, "prompt");
            }
        }
        else
        {
            throw ApiException.BadRequest("Send 'prompt' (a string) or 'messages'.", "prompt");
        }
        var tokenizer = serving.Host.Model!.Tokenizer;
        string[] pieces = [.. tokens.Select(tokenizer.TokenText)];
        await Json.WriteAsync(http, new TokenizeResponse(tokens.Length, engine.MaxModelLen, tokens, pieces, text), OpenAiJson.Web.TokenizeResponse);
    }

    public async Task DetokenizeAsync(HttpContext http)
    {
        var body = await JsonBody.ReadAsync(http, serving.Options.MaxRequestBodySize, OpenAiJson.Default.DetokenizeRequestBody);
        serving.RequireReady();
        serving.ResolveModel(body.Model);
        var tokenizer = serving.Host.Model!.Tokenizer;
        var ids = body.Tokens ?? throw ApiException.BadRequest("'tokens' (an array of token ids) is required.", "tokens");
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)tokenizer.VocabSize)
            {
                throw ApiException.BadRequest($"'tokens' has token id {id}, outside the vocabulary (0..{tokenizer.VocabSize - 1}).", "tokens");
            }
        }
        await Json.WriteAsync(http, new DetokenizeResponse(tokenizer.Decode([.. ids], renderSpecial: true)), OpenAiJson.Web.DetokenizeResponse);
    }
}
