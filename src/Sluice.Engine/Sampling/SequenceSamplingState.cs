using Sluice.Engine.Numerics;
using Sluice.Engine.Sampling.Grammars;

namespace Sluice.Engine.Sampling;

/// <summary>What the sampler remembers per sequence: its generator and the tokens it has seen.</summary>
public sealed class SequenceSamplingState
{
    private Xoshiro256 _random;

    public SequenceSamplingState(SamplingParams parameters, IReadOnlyList<int> promptTokens, ulong seed)
    {
        Params = parameters;
        _random = new Xoshiro256(seed);
        if (parameters.RepetitionPenalty != 1f)
        {
            PromptTokens = [.. promptTokens];
        }
        if (parameters.Grammar is { } grammar)
        {
            Constraint = new GrammarConstraint(grammar);
        }
        int continued = Math.Min(parameters.ContinuedTokens, promptTokens.Count);
        for (int i = promptTokens.Count - continued; i < promptTokens.Count; i++)
        {
            // as the earlier part of the request left it: one draw per token sampled, the tokens in the output counts
            _random.NextDouble();
            OutputCounts[promptTokens[i]] = OutputCounts.GetValueOrDefault(promptTokens[i]) + 1;
        }
    }

    /// <summary>This sequence's place in its grammar, when its output is constrained.</summary>
    public GrammarConstraint? Constraint { get; }

    public SamplingParams Params { get; }

    /// <summary>Generated-token counts (for presence/frequency/repetition penalties).</summary>
    public Dictionary<int, int> OutputCounts { get; } = [];

    /// <summary>Distinct prompt tokens, kept only when a repetition penalty is set.</summary>
    public HashSet<int>? PromptTokens { get; }

    public int Generated { get; private set; }

    public double NextUniform() => _random.NextDouble();

    public void Accept(int token)
    {
        OutputCounts[token] = OutputCounts.GetValueOrDefault(token) + 1;
        Generated++;
    }
}
