using System.Runtime.InteropServices;

namespace Sluice.Engine.Kernels;

/// <summary>
/// A 64-byte aligned native array for kernel scratch and activations: no GC moves, no bounds
/// checks in kernels, freed deterministically. Grows only by explicit <see cref="EnsureCapacity"/>.
/// </summary>
public sealed unsafe class NativeBuffer<T> : IDisposable where T : unmanaged
{
    private T* _ptr;

    public NativeBuffer(long length)
    {
        Allocate(length);
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

    private void Allocate(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        nuint bytes = (nuint)Math.Max(1, length) * (nuint)sizeof(T);
        _ptr = (T*)NativeMemory.AlignedAlloc(bytes, 64);
        NativeMemory.Clear(_ptr, bytes);
        Length = length;
    }

    private void Free()
    {
        if (_ptr != null)
        {
            NativeMemory.AlignedFree(_ptr);
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
