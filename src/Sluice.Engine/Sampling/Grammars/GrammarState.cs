namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// One parse stack: the position of the next element in an alternative, and the frame to continue in when the
/// alternative ends (null: the root is complete). Immutable and shared between stacks; compared by value.
/// </summary>
internal sealed class Frame : IEquatable<Frame>
{
    public Frame(int position, Frame? parent)
    {
        Position = position;
        Parent = parent;
        Hash = HashCode.Combine(position, parent?.Hash ?? 17);
        Depth = (parent?.Depth ?? 0) + 1;
    }

    public int Position { get; }
    public Frame? Parent { get; }
    public int Hash { get; }
    public int Depth { get; }

    public bool Equals(Frame? other)
    {
        var a = this;
        var b = other;
        while (a != null && b != null)
        {
            if (ReferenceEquals(a, b))
            {
                return true;
            }
            if (a.Hash != b.Hash || a.Position != b.Position)
            {
                return false;
            }
            a = a.Parent;
            b = b.Parent;
        }
        return a == null && b == null;
    }

    public override bool Equals(object? obj) => obj is Frame f && Equals(f);

    public override int GetHashCode() => Hash;
}

/// <summary>
/// A matcher state: the set of parse stacks alive after the bytes read so far, each stopped at a terminal, plus
/// whether the input so far is a complete sentence. Interned by <see cref="GrammarMatcher"/>, so equal states are one
/// object, and each caches its transitions by byte and, once computed, its token mask.
/// </summary>
public sealed class GrammarState
{
    internal static readonly GrammarState Dead = new([], false, default);

    private readonly GrammarState?[] _next = new GrammarState?[256];
    private ulong[]? _mask;

    internal GrammarState(Frame[] stacks, bool accepting, ByteSet firstBytes)
    {
        Stacks = stacks;
        IsAccepting = accepting;
        FirstBytes = firstBytes;
    }

    internal Frame[] Stacks { get; }

    /// <summary>The bytes read so far form a whole sentence of the grammar (end of generation is allowed).</summary>
    public bool IsAccepting { get; }

    /// <summary>Some byte can follow.</summary>
    public bool CanContinue => Stacks.Length > 0;

    /// <summary>The bytes that can come next.</summary>
    internal ByteSet FirstBytes { get; }

    internal GrammarState? CachedNext(byte b) => Volatile.Read(ref _next[b]);

    internal void CacheNext(byte b, GrammarState next) => Volatile.Write(ref _next[b], next);

    internal ulong[]? CachedMask => Volatile.Read(ref _mask);

    internal void CacheMask(ulong[] mask) => Volatile.Write(ref _mask, mask);
}
