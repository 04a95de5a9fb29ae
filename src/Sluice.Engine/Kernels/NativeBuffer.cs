using System.Runtime.InteropServices;
using Sluice.Engine.Memory;

namespace Sluice.Engine.Kernels;

/// <summary>
/// A 64-byte aligned, zeroed native array for kernel scratch and activations: no GC moves, no bounds
/// checks in kernels, freed deterministically; from <see cref="NativeAllocator"/>, so guarded in tests. Grows only by explicit <see cref="EnsureCapacity"/>.
/// </summary>
public sealed unsafe class NativeBuffer<T> : IDisposable where T : unmanaged
{
    private T* _ptr;

    public NativeBuffer(long length)
    {
        Allocate(length);
    }

    /// <param name="length">Elements.</param>
    /// <param name="hugePages">
    /// Ask Linux for transparent huge pages (the buffer aligned to 2 MiB): a large buffer written once
    /// then faults in 2 MiB at a time (packing a 2.5 GB model spent most of its time faulting 4 KiB pages).
    /// </param>
    public NativeBuffer(long length, bool hugePages)
    {
        Allocate(length, hugePages);
    }

    public long Length { get; private set; }

    public T* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_ptr == null && Length != 0, this);
            return _ptr;
        }
    }

    public Span<T> Span => new(_ptr, checked((int)Length));

    public Span<T> Slice(long start, int length)
    {
        if (start < 0 || length < 0 || start + length > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(start));
        }
        return new Span<T>(_ptr + start, length);
    }

    /// <summary>Grows (discarding contents) when smaller than <paramref name="length"/>.</summary>
    public void EnsureCapacity(long length)
    {
        if (length <= Length)
        {
            return;
        }
        Free();
        Allocate(length);
    }

    private void Allocate(long length, bool hugePages = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        nuint bytes = (nuint)Math.Max(1, length) * (nuint)sizeof(T);
        const nuint HugePage = 2 << 20;
        hugePages &= bytes >= HugePage && !NativeAllocator.Guarded;
        _ptr = (T*)NativeAllocator.Allocate(bytes, hugePages ? HugePage : 64, zero: false);
        if (hugePages)
        {
            // before the first write: pages touched earlier are already 4 KiB ones (packed weights then read ~15 % slower)
            MappedPages.AdviseHugePages((byte*)_ptr, (long)bytes);
        }
        NativeMemory.Clear(_ptr, bytes);
        Length = length;
    }

    private void Free()
    {
        if (_ptr != null)
        {
            NativeAllocator.Free(_ptr);
            _ptr = null;
        }
        Length = 0;
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~NativeBuffer() => Free();
}
