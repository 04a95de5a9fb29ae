using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sluice.OpenAi;

/// <summary>
/// Source-generated (de)serializers for every body of the OpenAI API that Sluice reads or writes; snake_case names
/// as OpenAI's, no reflection (the executable may be trimmed). <see cref="Default"/> reads requests; <see cref="Web"/>
/// writes responses with OpenAI's escaping.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.Strict,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(CompletionRequestBody))]
[JsonSerializable(typeof(ChatCompletionRequestBody))]
[JsonSerializable(typeof(TokenizeRequestBody))]
[JsonSerializable(typeof(DetokenizeRequestBody))]
[JsonSerializable(typeof(PredictRequestBody))]
[JsonSerializable(typeof(CompletionResponse))]
[JsonSerializable(typeof(ChatCompletionResponse))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ModelCard))]
[JsonSerializable(typeof(TokenizeResponse))]
[JsonSerializable(typeof(DetokenizeResponse))]
[JsonSerializable(typeof(PredictResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(ReceivedChunk))]
[JsonSerializable(typeof(ReceivedModelList))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(ResponsesRequestBody))]
[JsonSerializable(typeof(EmbeddingRequestBody))]
[JsonSerializable(typeof(EmbeddingResponse))]
[JsonSerializable(typeof(ReceivedEmbeddings))]
[JsonSerializable(typeof(float[]))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(System.Text.Json.Nodes.JsonNode))]
public sealed partial class OpenAiJson : JsonSerializerContext
{
    /// <summary>Writes text as it is (no \u escapes for quotes, &lt; or non-ASCII letters), like OpenAI's responses.</summary>
    public static JavaScriptEncoder Encoder => JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    /// <summary>The serializers with <see cref="Encoder"/>: use these for responses.</summary>
    public static OpenAiJson Web { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.Strict,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        Encoder = Encoder,
    });
}
