using System.Diagnostics;

namespace Sluice.Engine.Models;

/// <summary>Wall time per phase of the forward pass, accumulated while attached to a <see cref="Transformer"/> (for `bench engine --profile`).</summary>
public sealed class ForwardProfile
{
    public static readonly string[] PhaseNames = ["embed", "norm", "qkv matmul", "qkv prep", "attention", "o matmul", "ffn up matmul", "silu", "ffn down matmul", "residual", "logits"];

    private readonly long[] _ticks = new long[PhaseNames.Length];
    private long _last;

    public void Start() => _last = Stopwatch.GetTimestamp();

    public void Mark(int phase)
    {
        long now = Stopwatch.GetTimestamp();
        _ticks[phase] += now - _last;
        _last = now;
    }

    public IEnumerable<(string Phase, double Seconds)> Phases =>
        PhaseNames.Select((n, i) => (n, _ticks[i] / (double)Stopwatch.Frequency));

    public void Reset() => Array.Clear(_ticks);
}
