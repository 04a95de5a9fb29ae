using System.Text.Json.Serialization;

namespace Sluice.OpenAi;

/// <summary>The answer of GET /v1/models.</summary>
public sealed record ModelList(List<ModelCard> Data)
{
    public string Object => "list";
}

/// <summary>One served model name, with its context length (vLLM's max_model_len).</summary>
public sealed record ModelCard(string Id, long Created, string OwnedBy, string Root, int MaxModelLen)
{
    public string Object => "model";

    /// <summary>What the model is (the built-in demo model says what it was trained on); left out when null.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Description { get; init; }
}
