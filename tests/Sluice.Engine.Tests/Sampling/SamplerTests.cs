using Sluice.Engine.Sampling;

namespace Sluice.Engine.Tests.Sampling;

public sealed class SamplerTests
{
    private const int Vocab = 8;
    private const int Eos = 7;

    private static float[] Logits() => [2f, 1.5f, 1f, 0.5f, 0f, -0.5f, -1f, 3f];

    private static int Sample(SamplingParams p, float[] logits, ulong seed = 1, Action<SequenceSamplingState>? prepare = null)
    {
        var sampler = new Sampler(Vocab, [Eos]);
        var state = new SequenceSamplingState(p, [0, 1], seed);
        prepare?.Invoke(state);
        return sampler.Sample(logits, state).Token;
    }

    private static Dictionary<int, int> Histogram(SamplingParams p, int draws = 4000)
    {
        var sampler = new Sampler(Vocab, [Eos]);
        var state = new SequenceSamplingState(p, [], 42);
        var h = new Dictionary<int, int>();
        for (int i = 0; i < draws; i++)
        {
            int t = sampler.Sample(Logits(), state).Token;
            h[t] = h.GetValueOrDefault(t) + 1;
        }
        return h;
    }

    [Fact]
    public void ContinuedTokens_ResumeTheSeededSequenceWhereItWas_AndCountAsOutputForPenalties()
    {
        var p = new SamplingParams { Temperature = 1f, FrequencyPenalty = 0.5f };
        var sampler = new Sampler(Vocab, [Eos]);
        var unbroken = new SequenceSamplingState(p, [0, 1], 9);
        var tokens = new List<int>();
        for (int i = 0; i < 40; i++)
        {
            int t = sampler.Sample(Logits(), unbroken).Token;
            unbroken.Accept(t);
            tokens.Add(t);
        }
        // a continuation after 25 tokens: the prompt holds them, and it was told so
        var continued = new SequenceSamplingState(p with { ContinuedTokens = 25 }, [0, 1, .. tokens.Take(25)], 9);
        Assert.Equal(tokens.Take(25).GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count()), continued.OutputCounts);
        var rest = new List<int>();
        for (int i = 0; i < 15; i++)
        {
            int t = sampler.Sample(Logits(), continued).Token;
            continued.Accept(t);
            rest.Add(t);
        }
        Assert.Equal(tokens.Skip(25), rest);
    }

    [Fact]
    public void Sample_Greedy_PicksArgmax()
    {
        Assert.Equal(Eos, Sample(new SamplingParams { Temperature = 0 }, Logits()));
    }

    [Fact]
    public void Sample_IgnoreEos_MasksEndOfGeneration()
    {
        Assert.Equal(0, Sample(new SamplingParams { Temperature = 0, IgnoreEos = true }, Logits()));
    }

    [Fact]
    public void Sample_MinTokens_MasksEosAndStopIdsUntilReached()
    {
        var p = new SamplingParams { Temperature = 0, MinTokens = 2, MaxTokens = 5, StopTokenIds = [0] };
        Assert.Equal(1, Sample(p, Logits()));
        Assert.Equal(Eos, Sample(p, Logits(), prepare: s => { s.Accept(3); s.Accept(3); }));
    }

    [Fact]
    public void Sample_LogitBias_ChangesTheWinner()
    {
        var p = new SamplingParams { Temperature = 0, LogitBias = new Dictionary<int, float> { [4] = 10f } };
        Assert.Equal(4, Sample(p, Logits()));
    }

    [Fact]
    public void Sample_RepetitionPenalty_DemotesSeenTokens()
    {
        // prompt holds tokens 0 and 1; EOS masked so 0 (2.0) would win without the penalty
        var p = new SamplingParams { Temperature = 0, IgnoreEos = true, RepetitionPenalty = 3f };
        Assert.Equal(2, Sample(p, Logits()));
    }

    [Fact]
    public void Sample_PresenceAndFrequencyPenalties_SubtractPerOccurrence()
    {
        var presence = new SamplingParams { Temperature = 0, IgnoreEos = true, PresencePenalty = 0.6f };
        Assert.Equal(1, Sample(presence, Logits(), prepare: s => s.Accept(0)));
        var frequency = new SamplingParams { Temperature = 0, IgnoreEos = true, FrequencyPenalty = 0.3f };
        Assert.Equal(0, Sample(frequency, Logits(), prepare: s => s.Accept(0)));
        Assert.Equal(1, Sample(frequency, Logits(), prepare: s => { s.Accept(0); s.Accept(0); }));
    }

    [Fact]
    public void Sample_TopK1_IsGreedyWhateverTheTemperature()
    {
        var h = Histogram(new SamplingParams { Temperature = 5f, TopK = 1 }, 200);
        Assert.Equal([Eos], h.Keys);
    }

    [Fact]
    public void Sample_TopP_KeepsOnlyTheNucleus()
    {
        // softmax of the logits: p(7) ~ 0.52, p(0) ~ 0.19, p(1) ~ 0.12: top_p 0.6 keeps {7, 0}
        var h = Histogram(new SamplingParams { Temperature = 1f, TopP = 0.6f });
        Assert.Equal(new[] { 0, 7 }, h.Keys.Order().ToArray());
    }

    [Fact]
    public void Sample_MinP_DropsTokensBelowTheFloor()
    {
        // min_p 0.3: keep tokens with p >= 0.3 * p(7): e^(l-3) >= 0.3 -> l >= 1.8: {7, 0}
        var h = Histogram(new SamplingParams { Temperature = 1f, MinP = 0.3f });
        Assert.Equal(new[] { 0, 7 }, h.Keys.Order().ToArray());
    }

    [Fact]
    public void Sample_HigherTemperature_FlattensTheDistribution()
    {
        var cold = Histogram(new SamplingParams { Temperature = 0.3f });
        var hot = Histogram(new SamplingParams { Temperature = 3f });
        Assert.True(hot.Count > cold.Count);
        Assert.True(cold[Eos] > hot[Eos]);
    }

    [Fact]
    public void Sample_SameSeed_ReproducesTheSameDraws()
    {
        var p = new SamplingParams { Temperature = 2f };
        var a = Enumerable.Range(0, 50).Select(i => Sample(p, Logits(), seed: (ulong)i)).ToArray();
        var b = Enumerable.Range(0, 50).Select(i => Sample(p, Logits(), seed: (ulong)i)).ToArray();
        Assert.Equal(a, b);
        Assert.True(a.Distinct().Count() > 2);
    }

    [Fact]
    public void Sample_Logprobs_AreRawLogSoftmaxWithTopN()
    {
        var sampler = new Sampler(Vocab, [Eos]);
        var state = new SequenceSamplingState(new SamplingParams { Temperature = 0, IgnoreEos = true, Logprobs = 3, LogitBias = new Dictionary<int, float> { [5] = 50 } }, [], 1);
        var r = sampler.Sample(Logits(), state);
        double lse = Math.Log(Logits().Sum(x => Math.Exp(x)));
        Assert.Equal(5, r.Token);
        Assert.Equal(-0.5 - lse, r.Logprob, 4);
        Assert.Equal(new[] { 7, 0, 1 }, r.TopLogprobs!.Select(t => t.Token).ToArray());
        Assert.Equal(3 - lse, r.TopLogprobs![0].Logprob, 4);
    }

    [Fact]
    public void TopP_OverLargeVocabulary_MatchesFullSortPath()
    {
        // a flat distribution forces the fallback past the 256-candidate fast path
        var rng = new Random(9);
        var logits = Enumerable.Range(0, 5000).Select(_ => (float)rng.NextDouble() * 0.01f).ToArray();
        var sampler = new Sampler(5000, []);
        var state = new SequenceSamplingState(new SamplingParams { Temperature = 1f, TopP = 0.9f }, [], 3);
        var seen = new HashSet<int>();
        for (int i = 0; i < 300; i++)
        {
            seen.Add(sampler.Sample(logits, state).Token);
        }
        Assert.True(seen.Count > 250);
    }

    [Theory]
    [InlineData("temperature", -1f, 1f, 1f)]
    [InlineData("top_p", 1f, 0f, 1f)]
    [InlineData("min_p", 1f, 1f, 2f)]
    public void Validate_BadField_IsNamed(string field, float temperature, float topP, float minP)
    {
        var p = new SamplingParams { Temperature = temperature, TopP = topP, MinP = minP > 1 ? minP : 0 };
        var ex = Assert.Throws<ArgumentException>(() => p.Validate(Vocab));
        Assert.Contains(field, ex.Message);
    }

    [Theory]
    [InlineData(1, 0.02)]
    [InlineData(63, 0.5)]
    [InlineData(130, 0.3)]
    [InlineData(200, 0.97)]
    [InlineData(257, 0.6)]
    public void ApplyMask_FewOrManyAllowed_EqualsBitByBitReference(int vocab, double density)
    {
        var rng = new Random(vocab);
        var mask = new ulong[(vocab + 63) / 64];
        for (int id = 0; id < vocab; id++)
        {
            if (rng.NextDouble() < density)
            {
                mask[id >> 6] |= 1UL << (id & 63);
            }
        }
        var logits = Enumerable.Range(0, vocab).Select(_ => (float)rng.NextDouble()).ToArray();
        var expected = logits.Select((v, id) => (mask[id >> 6] & (1UL << (id & 63))) != 0 ? v : float.NegativeInfinity).ToArray();
        new Sampler(vocab, []).ApplyMask(logits, mask);
        Assert.Equal(expected, logits);
    }
}
