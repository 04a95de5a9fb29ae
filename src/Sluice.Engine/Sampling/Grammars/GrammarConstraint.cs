namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// One sequence's place in a grammar: the state after the tokens it has generated. The sampler masks logits with
/// <see cref="Mask"/> (computed ahead, in parallel across the batch, by <see cref="Prepare"/>), and the engine
/// advances it with each accepted token and ends the sequence when <see cref="IsComplete"/>.
/// </summary>
public sealed class GrammarConstraint(GrammarMatcher matcher)
{
    private GrammarState _state = matcher.Start;
    private ulong[]? _mask;

    public GrammarMatcher Matcher { get; } = matcher;

    /// <summary>The output is a whole sentence and nothing more can follow: the sequence is done.</summary>
    public bool IsComplete => _state.IsAccepting && !_state.CanContinue;

    /// <summary>The output so far is a whole sentence (it may still go on).</summary>
    public bool IsAccepting => _state.IsAccepting;

    /// <summary>Computes this step's mask now (the engine calls it for all constrained sequences in parallel).</summary>
    public void Prepare() => _mask ??= Matcher.Mask(_state);

    /// <summary>The tokens allowed next, one bit per token id.</summary>
    public ulong[] Mask => _mask ??= Matcher.Mask(_state);

    /// <summary>Moves past a token's bytes; false (state unchanged) when the grammar does not allow it.</summary>
    public bool Accept(ReadOnlySpan<byte> bytes, bool endOfGeneration)
    {
        if (endOfGeneration)
        {
            return _state.IsAccepting;
        }
        var next = Matcher.Step(_state, bytes);
        if (next == null)
        {
            return false;
        }
        _state = next;
        _mask = null;
        return true;
    }
}
