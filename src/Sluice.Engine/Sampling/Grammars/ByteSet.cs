namespace Sluice.Engine.Sampling.Grammars;

/// <summary>An immutable set of byte values: the terminals of a byte-level grammar.</summary>
public readonly record struct ByteSet(ulong W0, ulong W1, ulong W2, ulong W3)
{
    public static ByteSet Of(byte b) => Range(b, b);

    public static ByteSet Range(byte from, byte to)
    {
        Span<ulong> w = stackalloc ulong[4];
        for (int b = from; b <= to; b++)
        {
            w[b >> 6] |= 1UL << (b & 63);
        }
        return new ByteSet(w[0], w[1], w[2], w[3]);
    }

    public ByteSet Union(ByteSet o) => new(W0 | o.W0, W1 | o.W1, W2 | o.W2, W3 | o.W3);

    public ByteSet Except(ByteSet o) => new(W0 & ~o.W0, W1 & ~o.W1, W2 & ~o.W2, W3 & ~o.W3);

    public bool IsEmpty => (W0 | W1 | W2 | W3) == 0;

    public bool Contains(byte b) => ((b >> 6) switch { 0 => W0, 1 => W1, 2 => W2, _ => W3 } & (1UL << (b & 63))) != 0;
}
