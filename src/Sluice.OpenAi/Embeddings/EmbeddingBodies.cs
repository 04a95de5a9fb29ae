using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sluice.OpenAi;

/// <summary>POST /v1/embeddings.</summary>
public sealed record EmbeddingRequestBody
{
    public string? Model { get; init; }

    /// <summary>A string, an array of strings, an array of token ids, or an array of token-id arrays.</summary>
    public JsonElement? Input { get; init; }

    /// <summary><c>float</c> (the default) or <c>base64</c> (little-endian float32).</summary>
    public string? EncodingFormat { get; init; }

    public int? Dimensions { get; init; }
    public string? User { get; init; }
}

/// <summary>The answer: one embedding per input, in input order.</summary>
public sealed record EmbeddingResponse(string Object, IReadOnlyList<EmbeddingItem> Data, string Model, EmbeddingUsage Usage);

/// <summary>One input's vector: a <c>float[]</c> (a JSON array), or a base64 string of little-endian float32s.</summary>
public sealed record EmbeddingItem(string Object, int Index, object Embedding);

/// <summary>One input's vector as a client reads it: an array of numbers or a base64 string.</summary>
public sealed record ReceivedEmbeddingItem(int Index, JsonElement Embedding);

public sealed record EmbeddingUsage(int PromptTokens, int TotalTokens);

/// <summary>A client's view of an embeddings answer (for tests and tools): the vectors as sent, either encoding.</summary>
public sealed record ReceivedEmbeddings
{
    public List<ReceivedEmbeddingItem> Data { get; init; } = [];

    [JsonPropertyName("usage")]
    public EmbeddingUsage? Usage { get; init; }
}
