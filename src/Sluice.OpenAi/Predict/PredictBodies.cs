namespace Sluice.OpenAi;

/// <summary>POST /v1/predict: the older <c>{"text": ...}</c> shape.</summary>
public sealed record PredictRequestBody
{
    public string? Model { get; init; }
    public string? Text { get; init; }
    public int? MaxTokens { get; init; }
    public float? Temperature { get; init; }
    public long? Seed { get; init; }
}

public sealed record PredictResponse(string Id, string Model, string Text, string? FinishReason, Usage Usage);
