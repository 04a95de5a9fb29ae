using System.Text.Json;

namespace Sluice.OpenAi;

/// <summary>POST /v1/completions.</summary>
public sealed record CompletionRequestBody : SamplingFields
{
    public JsonElement? Prompt { get; init; }
    public bool? Echo { get; init; }
    public int? BestOf { get; init; }
    public string? Suffix { get; init; }
    public bool? AddSpecialTokens { get; init; }

    /// <summary>
    /// Sluice's continuation of a cut stream (sent by `sluice gateway`): the ids of the answer's tokens the client already
    /// has (every one, those whose text was held back included). The prompt (one, as text or token ids) is followed by
    /// them; the sampler, the detokenizer and the stop strings' matcher resume after them, so text held back (half a
    /// character, a possible start of a stop string) comes with the next token and a stop string across the cut stops.
    /// </summary>
    public List<int>? ContinuedTokenIds { get; init; }
}
