namespace Sluice.Engine.Templates;

/// <summary>
/// A tool call of an assistant message. Templates see
/// <c>{"id": ..., "type": "function", "function": {"name": ..., "arguments": ...}}</c>, where
/// <c>arguments</c> is the parsed JSON object when <see cref="ArgumentsJson"/> holds one (what Llama, Mistral
/// and DeepSeek templates expect to <c>tojson</c>) and the raw string otherwise.
/// </summary>
public sealed record ChatToolCall(string? Id, string Name, string ArgumentsJson, string Type = "function");
