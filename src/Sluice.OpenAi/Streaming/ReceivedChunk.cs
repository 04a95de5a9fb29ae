namespace Sluice.OpenAi;

/// <summary>
/// A completions or chat answer as a client reads it from any OpenAI-compatible server: one stream event
/// (choices with <c>text</c> or a <c>delta</c>, the usage, or an error) or a whole response (choices with
/// <c>text</c> or a <c>message</c>). What a field's server leaves out is null.
/// </summary>
public sealed record ReceivedChunk
{
    public List<ReceivedChoice>? Choices { get; init; }
    public Usage? Usage { get; init; }
    public ErrorDetail? Error { get; init; }

    /// <summary>True when any choice carries text: a completions <c>text</c> or a chat delta's or message's content.</summary>
    public bool HasText => Choices?.Any(c => c.Text is { Length: > 0 } || c.Delta?.Content is { Length: > 0 } || c.Message?.Content is { Length: > 0 }) == true;
}

public sealed record ReceivedChoice
{
    public int Index { get; init; }
    public string? Text { get; init; }
    public ChatDelta? Delta { get; init; }
    public ChatResponseMessage? Message { get; init; }
    public string? FinishReason { get; init; }
}
