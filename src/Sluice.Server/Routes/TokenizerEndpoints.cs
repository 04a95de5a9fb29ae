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
        if (body.Messages is not null)
        {
            var conversation = new ChatCompletionRequestBody { Messages = body.Messages, AddGenerationPrompt = body.AddGenerationPrompt };
            tokens = serving.Host.Chat!.Build(JobReader.Conversation(conversation), engine.MaxModelLen);
        }
        else if (body.Prompt is not null)
        {
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
        await Json.WriteAsync(http, new TokenizeResponse(tokens.Length, engine.MaxModelLen, tokens), OpenAiJson.Web.TokenizeResponse);
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
