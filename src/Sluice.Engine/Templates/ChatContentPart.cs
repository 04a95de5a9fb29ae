namespace Sluice.Engine.Templates;

/// <summary>
/// One part of a multi-part message content as OpenAI sends it, e.g. <c>{"type": "text", "text": "hi"}</c>.
/// Templates see it as a dict with <c>type</c>, <c>text</c> when set, and any <see cref="Extra"/> keys.
/// </summary>
public sealed record ChatContentPart(string Type, string? Text = null)
{
    public static ChatContentPart FromText(string text) => new("text", text);

    /// <summary>Further keys of the part (e.g. <c>image_url</c>), converted like <see cref="ChatTemplateContext.Extra"/>.</summary>
    public IReadOnlyDictionary<string, object?>? Extra { get; init; }
}
