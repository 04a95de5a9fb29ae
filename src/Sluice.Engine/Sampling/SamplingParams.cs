using Sluice.Engine.Sampling.Grammars;

namespace Sluice.Engine.Sampling;

/// <summary>
/// How to pick tokens and when to stop, with vLLM's names and defaults. A temperature of 0 is greedy.
/// Immutable; <see cref="Validate(int)"/> names the first bad field.
/// </summary>
public sealed record SamplingParams
{
    public float Temperature { get; init; } = 1f;

    /// <summary>Keep only the K most likely tokens; 0 (or -1) keeps all.</summary>
    public int TopK { get; init; }

    public float TopP { get; init; } = 1f;
    public float MinP { get; init; }

    /// <summary>Divides positive logits (multiplies negative ones) of tokens seen in the prompt or output; 1 is off.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>Subtracted once from the logit of every token already generated.</summary>
    public float PresencePenalty { get; init; }

    /// <summary>Subtracted from a token's logit once per time it was generated.</summary>
    public float FrequencyPenalty { get; init; }

    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    /// <summary>Seed of this request's own generator; null draws one.</summary>
    public ulong? Seed { get; init; }

    /// <summary>
    /// The last this-many prompt tokens were generated earlier by this same request (a gateway continuing a cut stream on
    /// another replica): the generator starts as many draws in as sampling them took (one each), and they count as
    /// output for the presence and frequency penalties, so a seeded request continues exactly as an unbroken one.
    /// </summary>
    public int ContinuedTokens { get; init; }

    public int MaxTokens { get; init; } = 16;
    public int MinTokens { get; init; }
    public bool IgnoreEos { get; init; }
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    public IReadOnlyList<string> Stop { get; init; } = [];
    public bool IncludeStopStringInOutput { get; init; }

    /// <summary>Top log-probabilities to return per generated token; null returns none, 0 only the chosen token's.</summary>
    public int? Logprobs { get; init; }

    /// <summary>Independent completions of the same prompt (they share the prompt's KV blocks).</summary>
    public int N { get; init; } = 1;

    /// <summary>Constrains the output to this grammar's sentences (structured outputs); null leaves it free.</summary>
    public GrammarMatcher? Grammar { get; init; }

    public const int MaxLogprobs = 20;

    public bool IsGreedy => Temperature < 1e-5f;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field (by its API name: top_p).</summary>
    public void Validate(int vocabSize) => Validate(vocabSize, static field => field);

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the first invalid field as <paramref name="nameOf"/> calls
    /// it (a command line names top_p "--top-p").
    /// </summary>
    public void Validate(int vocabSize, Func<string, string> nameOf)
    {
        static void Fail(string message) => throw new ArgumentException(message);
        string Name(string field) => nameOf(field);
        if (!float.IsFinite(Temperature) || Temperature < 0 || Temperature > 100)
        {
            Fail($"{Name("temperature")} must be between 0 and 100, got {Temperature}");
        }
        if (TopK < -1)
        {
            Fail($"{Name("top_k")} must be -1, 0 (off) or positive, got {TopK}");
        }
        if (!(TopP > 0 && TopP <= 1))
        {
            Fail($"{Name("top_p")} must be in (0, 1], got {TopP}");
        }
        if (!(MinP >= 0 && MinP <= 1))
        {
            Fail($"{Name("min_p")} must be in [0, 1], got {MinP}");
        }
        if (!(RepetitionPenalty > 0 && RepetitionPenalty <= 10))
        {
            Fail($"{Name("repetition_penalty")} must be in (0, 10], got {RepetitionPenalty}");
        }
        if (!(PresencePenalty >= -2 && PresencePenalty <= 2))
        {
            Fail($"{Name("presence_penalty")} must be in [-2, 2], got {PresencePenalty}");
        }
        if (!(FrequencyPenalty >= -2 && FrequencyPenalty <= 2))
        {
            Fail($"{Name("frequency_penalty")} must be in [-2, 2], got {FrequencyPenalty}");
        }
        if (MaxTokens < 1)
        {
            Fail($"{Name("max_tokens")} must be at least 1, got {MaxTokens}");
        }
        if (MinTokens < 0 || MinTokens > MaxTokens)
        {
            Fail($"{Name("min_tokens")} must be between 0 and {Name("max_tokens")} ({MaxTokens}), got {MinTokens}");
        }
        if (Logprobs is < 0 or > MaxLogprobs)
        {
            Fail($"{Name("logprobs")} must be between 0 and {MaxLogprobs}, got {Logprobs}");
        }
        if (N is < 1 or > 16)
        {
            Fail($"{Name("n")} must be between 1 and 16, got {N}");
        }
        if (Stop.Count > 16 || Stop.Any(string.IsNullOrEmpty))
        {
            Fail($"{Name("stop")} must be at most 16 non-empty strings");
        }
        foreach (var id in StopTokenIds)
        {
            if ((uint)id >= (uint)vocabSize)
            {
                Fail($"{Name("stop_token_ids")} contains {id}, outside the vocabulary (0..{vocabSize - 1})");
            }
        }
        if (Grammar != null && Grammar.Vocabulary.VocabSize != vocabSize)
        {
            Fail($"the grammar was compiled for a vocabulary of {Grammar.Vocabulary.VocabSize} tokens, not this model's {vocabSize}");
        }
        if (LogitBias != null)
        {
            foreach (var (id, bias) in LogitBias)
            {
                if ((uint)id >= (uint)vocabSize)
                {
                    Fail($"{Name("logit_bias")} names token {id}, outside the vocabulary (0..{vocabSize - 1})");
                }
                if (!float.IsFinite(bias) || bias < -100 || bias > 100)
                {
                    Fail($"{Name("logit_bias")} for token {id} must be in [-100, 100], got {bias}");
                }
            }
        }
    }
}
