using System.Numerics;
using System.Numerics.Tensors;

namespace Sluice.Engine.Sampling;

/// <summary>
/// Picks the next token from one row of logits: logit bias, min-tokens and ignore-EOS masking,
/// repetition/presence/frequency penalties, then greedy argmax, or temperature, top-k, top-p, min-p
/// and a draw from the sequence's own seeded generator. Log-probabilities are reported from the raw
/// logits (before any of that), as vLLM and llama.cpp report them. One instance per engine thread:
/// it owns vocabulary-sized scratch.
/// </summary>
public sealed class Sampler
{
    // Top-p first tries the 256 best candidates: when they already hold the nucleus (almost always)
    // no full-vocabulary sort is needed, and the result is exactly the same.
    private const int FastCandidates = 256;

    private readonly int _vocab;
    private readonly float[] _work;
    private readonly int[] _index;
    private readonly float[] _keys;
    private readonly IReadOnlyList<int> _endOfGeneration;

    public Sampler(int vocabSize, IReadOnlyList<int> endOfGenerationIds)
    {
        _vocab = vocabSize;
        _work = new float[vocabSize];
        _index = new int[vocabSize];
        _keys = new float[vocabSize];
        _endOfGeneration = endOfGenerationIds;
    }

    public readonly record struct Result(int Token, float Logprob, TokenLogprob[]? TopLogprobs);

    public Result Sample(ReadOnlySpan<float> rawLogits, SequenceSamplingState state)
    {
        var p = state.Params;
        float lse = 0;
        bool wantLogprobs = p.Logprobs.HasValue;
        if (wantLogprobs)
        {
            lse = LogSumExp(rawLogits);
        }
        var logits = _work.AsSpan(0, _vocab);
        rawLogits.CopyTo(logits);
        ApplyBiasAndMasks(logits, state);
        ApplyPenalties(logits, state);
        if (state.Constraint is { } constraint)
        {
            ApplyMask(logits, constraint.Mask);
        }
        int token = p.IsGreedy ? TensorPrimitives.IndexOfMax(logits) : Draw(logits, state);
        TokenLogprob[]? top = null;
        if (wantLogprobs && p.Logprobs > 0)
        {
            top = TopN(rawLogits, p.Logprobs!.Value, lse);
        }
        return new Result(token, wantLogprobs ? rawLogits[token] - lse : 0f, top);
    }

    /// <summary>log(sum(exp(x))) with max subtraction.</summary>
    public static float LogSumExp(ReadOnlySpan<float> x)
    {
        float max = TensorPrimitives.Max(x);
        double sum = 0;
        Span<float> chunk = stackalloc float[512];
        for (int i = 0; i < x.Length; i += chunk.Length)
        {
            int n = Math.Min(chunk.Length, x.Length - i);
            var c = chunk[..n];
            TensorPrimitives.Subtract(x.Slice(i, n), max, c);
            TensorPrimitives.Exp(c, c);
            sum += TensorPrimitives.Sum(c);
        }
        return max + (float)Math.Log(sum);
    }

    /// <summary>The n largest raw logits as log-probabilities, best first (ties by lower id).</summary>
    public static TokenLogprob[] TopN(ReadOnlySpan<float> logits, int n, float lse)
    {
        n = Math.Min(n, logits.Length);
        var best = new TokenLogprob[n];
        int count = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float v = logits[i];
            if (count == n && v <= best[n - 1].Logprob)
            {
                continue;
            }
            int j = count < n ? count++ : n - 1;
            while (j > 0 && best[j - 1].Logprob < v)
            {
                best[j] = best[j - 1];
                j--;
            }
            best[j] = new TokenLogprob(i, v);
        }
        for (int i = 0; i < n; i++)
        {
            best[i] = best[i] with { Logprob = best[i].Logprob - lse };
        }
        return best;
    }

    private void ApplyBiasAndMasks(Span<float> logits, SequenceSamplingState state)
    {
        var p = state.Params;
        if (p.LogitBias != null)
        {
            foreach (var (id, bias) in p.LogitBias)
            {
                logits[id] += bias;
            }
        }
        bool belowMin = state.Generated < p.MinTokens;
        if (p.IgnoreEos || belowMin)
        {
            foreach (var id in _endOfGeneration)
            {
                logits[id] = float.NegativeInfinity;
            }
        }
        if (belowMin)
        {
            foreach (var id in p.StopTokenIds)
            {
                logits[id] = float.NegativeInfinity;
            }
        }
    }

    /// <summary>
    /// Sets the logit of every token the mask leaves out to minus infinity, in time proportional to the smaller side:
    /// inside a JSON string almost every token is allowed (so the refused ones are visited bit by bit), after a
    /// <c>{</c> almost none is (so the row is filled and the few allowed logits put back).
    /// </summary>
    public void ApplyMask(Span<float> logits, ReadOnlySpan<ulong> mask)
    {
        int allowed = 0;
        foreach (ulong w in mask)
        {
            allowed += BitOperations.PopCount(w);
        }
        if (allowed < logits.Length / 2)
        {
            var kept = _keys.AsSpan(0, allowed);
            var ids = _index.AsSpan(0, allowed);
            int k = 0;
            for (int w = 0; w < mask.Length; w++)
            {
                for (ulong bits = mask[w]; bits != 0; bits &= bits - 1)
                {
                    int id = (w * 64) + BitOperations.TrailingZeroCount(bits);
                    ids[k] = id;
                    kept[k++] = logits[id];
                }
            }
            logits.Fill(float.NegativeInfinity);
            for (int i = 0; i < k; i++)
            {
                logits[ids[i]] = kept[i];
            }
            return;
        }
        for (int w = 0; w < mask.Length; w++)
        {
            ulong refused = ~mask[w];
            if (w == mask.Length - 1 && logits.Length % 64 != 0)
            {
                refused &= (1UL << (logits.Length % 64)) - 1;
            }
            for (; refused != 0; refused &= refused - 1)
            {
                logits[(w * 64) + BitOperations.TrailingZeroCount(refused)] = float.NegativeInfinity;
            }
        }
    }

    private static void ApplyPenalties(Span<float> logits, SequenceSamplingState state)
    {
        var p = state.Params;
        if (p.RepetitionPenalty != 1f)
        {
            float r = p.RepetitionPenalty;
            foreach (var id in state.PromptTokens!.Concat(state.OutputCounts.Keys).Distinct())
            {
                logits[id] = logits[id] > 0 ? logits[id] / r : logits[id] * r;
            }
        }
        if (p.PresencePenalty != 0 || p.FrequencyPenalty != 0)
        {
            foreach (var (id, count) in state.OutputCounts)
            {
                logits[id] -= p.PresencePenalty + p.FrequencyPenalty * count;
            }
        }
    }

    private int Draw(Span<float> logits, SequenceSamplingState state)
    {
        var p = state.Params;
        float invT = 1f / p.Temperature;
        float max = TensorPrimitives.Max(logits);
        if (float.IsNegativeInfinity(max))
        {
            return TensorPrimitives.IndexOfMax(logits);
        }
        // weights w_i = exp((l_i - max) / T), unnormalized probabilities
        TensorPrimitives.Subtract(logits, max, logits);
        TensorPrimitives.Multiply(logits, invT, logits);
        TensorPrimitives.Exp(logits, logits);
        var w = logits;
        int topK = p.TopK > 0 ? Math.Min(p.TopK, _vocab) : _vocab;
        bool needOrder = topK < _vocab || p.TopP < 1f || p.MinP > 0f;
        if (!needOrder)
        {
            return DrawFrom(w, null, _vocab, TensorPrimitives.Sum(w), state);
        }
        int count = SortedCandidates(w, topK, p.TopP);
        var idx = _index.AsSpan(0, count);
        double total = 0;
        foreach (var i in idx)
        {
            total += w[i];
        }
        // top-p: smallest prefix whose mass reaches p
        if (p.TopP < 1f)
        {
            double cum = 0;
            int keep = count;
            for (int k = 0; k < count; k++)
            {
                cum += w[idx[k]];
                if (cum >= p.TopP * total)
                {
                    keep = k + 1;
                    break;
                }
            }
            count = keep;
        }
        // min-p: drop tokens below min_p times the best one's probability
        if (p.MinP > 0f)
        {
            float floor = p.MinP * w[idx[0]];
            int keep = 1;
            while (keep < count && w[idx[keep]] >= floor)
            {
                keep++;
            }
            count = keep;
        }
        double mass = 0;
        for (int k = 0; k < count; k++)
        {
            mass += w[idx[k]];
        }
        return DrawFrom(w, _index, count, mass, state);
    }

    private static int DrawFrom(ReadOnlySpan<float> w, int[]? order, int count, double total, SequenceSamplingState state)
    {
        double u = state.NextUniform() * total;
        double cum = 0;
        int last = -1;
        for (int k = 0; k < count; k++)
        {
            int id = order == null ? k : order[k];
            if (w[id] <= 0)
            {
                continue;
            }
            last = id;
            cum += w[id];
            if (u < cum)
            {
                return id;
            }
        }
        return last >= 0 ? last : (order == null ? 0 : order[0]);
    }

    /// <summary>
    /// Fills _index with candidate ids in descending weight order (ties by id) and returns how many:
    /// the top K, or for top-p alone the 256 best when they already reach the nucleus, else all.
    /// </summary>
    private int SortedCandidates(ReadOnlySpan<float> w, int topK, float topP)
    {
        int want = topK < _vocab ? topK : Math.Min(FastCandidates, _vocab);
        int n = SelectTop(w, want);
        if (topK >= _vocab && n < _vocab)
        {
            double total = TensorPrimitives.Sum(w);
            double cum = 0;
            for (int k = 0; k < n; k++)
            {
                cum += w[_index[k]];
            }
            if (cum < topP * total)
            {
                n = SelectTop(w, _vocab);
            }
        }
        return n;
    }

    private int SelectTop(ReadOnlySpan<float> w, int k)
    {
        if (k >= w.Length)
        {
            for (int i = 0; i < w.Length; i++)
            {
                _index[i] = i;
                _keys[i] = -w[i];
            }
            Array.Sort(_keys, _index, 0, w.Length);
            StableTies(w, w.Length);
            return w.Length;
        }
        // min-heap of the k best so far; its root is the worst kept (lower weight, or higher id on ties)
        var heap = _index.AsSpan(0, k);
        int count = 0;
        for (int i = 0; i < w.Length; i++)
        {
            if (count < k)
            {
                heap[count] = i;
                SiftUp(heap, count++, w);
            }
            else if (Better(i, heap[0], w))
            {
                heap[0] = i;
                SiftDown(heap, 0, k, w);
            }
        }
        // heap-sort into best-first order
        for (int end = k - 1; end > 0; end--)
        {
            (heap[0], heap[end]) = (heap[end], heap[0]);
            SiftDown(heap, 0, end, w);
        }
        return k;
    }

    private static bool Better(int a, int b, ReadOnlySpan<float> w) => w[a] > w[b] || (w[a] == w[b] && a < b);

    private static void SiftUp(Span<int> h, int i, ReadOnlySpan<float> w)
    {
        while (i > 0)
        {
            int parent = (i - 1) / 2;
            if (!Better(h[parent], h[i], w))
            {
                break;
            }
            (h[parent], h[i]) = (h[i], h[parent]);
            i = parent;
        }
    }

    private static void SiftDown(Span<int> h, int i, int n, ReadOnlySpan<float> w)
    {
        while (true)
        {
            int l = 2 * i + 1, r = l + 1, worst = i;
            if (l < n && Better(h[worst], h[l], w))
            {
                worst = l;
            }
            if (r < n && Better(h[worst], h[r], w))
            {
                worst = r;
            }
            if (worst == i)
            {
                return;
            }
            (h[worst], h[i]) = (h[i], h[worst]);
            i = worst;
        }
    }

    private void StableTies(ReadOnlySpan<float> w, int n)
    {
        // Array.Sort is not stable: order equal weights by id so a seed always maps to one token
        int start = 0;
        for (int i = 1; i <= n; i++)
        {
            if (i == n || w[_index[i]] != w[_index[start]])
            {
                if (i - start > 1)
                {
                    Array.Sort(_index, start, i - start);
                }
                start = i;
            }
        }
    }
}
