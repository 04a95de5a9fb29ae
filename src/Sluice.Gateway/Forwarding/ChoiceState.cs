using System.Text;

namespace Sluice.Gateway.Forwarding;

/// <summary>
/// One choice of a client stream: what the client has been sent of it, whether it finished, and where it comes from
/// (its prompt, and its place among that prompt's <c>n</c> choices, which gives its seed). A cut stream continues each
/// unfinished choice on its own; a stream of one choice has one of these.
/// </summary>
internal sealed class ChoiceState(int index, int n)
{
    /// <summary>The choice's index in the client's stream: prompt × n + its place among the prompt's choices.</summary>
    public int Index { get; } = index;

    /// <summary>Which of a completions prompt array's prompts it answers (0 for chat and a single prompt).</summary>
    public int Prompt { get; } = index / n;

    /// <summary>Its place among its prompt's choices: sluice serve samples it with <c>seed + SeedOffset</c> (LlmEngine.Fork).</summary>
    public int SeedOffset { get; } = index % n;

    public StringBuilder Text { get; } = new();
    public List<int> TokenIds { get; } = [];

    /// <summary>Every token sent so far came with its id (sluice serve with return_token_ids).</summary>
    public bool IdsComplete { get; set; } = true;

    /// <summary>Of <see cref="TokenIds"/>, those whose text the client has: ids after the last chunk with text came with
    /// text held back (half a character, a possible stop string); a token-level continuation generates them again.</summary>
    public int Committed { get; set; }

    /// <summary>Ids the client already has (their text was held back) that a token-level continuation generates again:
    /// left out of the ids the client is sent.</summary>
    public int ResentIds { get; set; }

    /// <summary>Tokens sent to the client (its ids, else one per chunk; a continuation's usage corrects the count).</summary>
    public int Tokens { get; set; }

    /// <summary>Its finish_reason, once the client was sent one: a finished choice is never continued.</summary>
    public string? Finish { get; set; }

    /// <summary>A tool_calls delta was sent: its arguments cannot be continued by text.</summary>
    public bool ToolCall { get; set; }
}
