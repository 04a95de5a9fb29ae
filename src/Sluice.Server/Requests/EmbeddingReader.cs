using System.Text.Json;
using Sluice.Engine.Sampling;
using Sluice.Engine.Serving;
using Sluice.Hosting.Errors;
using Sluice.OpenAi;
using Sluice.Server.Generation;

namespace Sluice.Server.Requests;

/// <summary>A /v1/embeddings body to its job: one prompt per input, each pooled into a vector by the engine.</summary>
internal static class EmbeddingReader
{
    public static GenerationJob Read(EmbeddingRequestBody body, ResolvedRequest r, EmbeddingPooling pooling)
    {
        if (body.Dimensions is { } dims)
        {
            throw ApiException.BadRequest(
                $"'dimensions' is not supported by this model: its embeddings always have {r.Loaded.Config.EmbeddingLength} dimensions (got {dims}).", "dimensions");
        }
        if (body.EncodingFormat is not (null or "float" or "base64"))
        {
            throw ApiException.BadRequest($"'encoding_format' must be \"float\" or \"base64\", got \"{body.EncodingFormat}\".", "encoding_format");
        }
        RejectEmptyText(body.Input);
        // an embedding may fill the whole context: nothing is generated after it
        var prompts = PromptReader.Read(body.Input, r.Loaded.Tokenizer, addSpecial: true, r.Engine.MaxModelLen, "input");
        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Length > r.Engine.MaxModelLen)
            {
                string which = prompts.Count == 1 ? "'input'" : $"'input[{i}]'";
                throw ApiException.TooLong(
                    $"This model's maximum context length is {r.Engine.MaxModelLen} tokens, but {which} has {prompts[i].Length} tokens; shorten it.", "input");
            }
        }
        return new GenerationJob(r.RequestId, r.Route, r.Model, prompts, new SamplingParams())
        {
            PromptField = "input",
            Embedding = new EmbeddingSpec(pooling, Normalize: true),
        };
    }

    /// <summary>An empty string has no tokens to embed (the BOS token alone would otherwise stand in for it).</summary>
    private static void RejectEmptyText(JsonElement? input)
    {
        if (input is not { } value)
        {
            return;
        }
        if (value.ValueKind == JsonValueKind.String && value.GetString()!.Length == 0)
        {
            throw ApiException.BadRequest("'input' is empty: there is nothing to embed.", "input");
        }
        if (value.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (var item in value.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.String && item.GetString()!.Length == 0)
                {
                    throw ApiException.BadRequest($"'input[{i}]' is empty: there is nothing to embed.", "input");
                }
                i++;
            }
        }
    }
}
