using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Sluice.Engine.Caching;

/// <summary>
/// Content keys of full KV blocks: a block's key hashes its parent's key with its own tokens, so equal
/// keys mean equal whole prefixes. SHA-256 (truncated to 128 bits) makes a collision, which would
/// silently serve another prompt's keys and values, practically impossible.
/// </summary>
public static class PrefixHash
{
    public static UInt128 Compute(UInt128 parent, ReadOnlySpan<int> tokens)
    {
        Span<byte> input = stackalloc byte[16 + tokens.Length * 4];
        BinaryPrimitives.WriteUInt128LittleEndian(input, parent);
        MemoryMarshal.AsBytes(tokens).CopyTo(input[16..]);
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(input, digest);
        return BinaryPrimitives.ReadUInt128LittleEndian(digest);
    }
}
