namespace Sluice.OpenAi;

/// <summary>One server-sent event: its <c>event:</c> type (null for the default "message") and its data lines joined by \n.</summary>
public readonly record struct SseEvent(string? Type, string Data)
{
    /// <summary>The data OpenAI sends as the last event of a stream.</summary>
    public const string DoneData = "[DONE]";

    /// <summary>True for <c>data: [DONE]</c>, the end of an OpenAI stream.</summary>
    public bool IsDone => Data == DoneData;
}
