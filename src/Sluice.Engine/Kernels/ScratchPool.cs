namespace Sluice.Engine.Kernels;

/// <summary>
/// Float scratch buffers for kernels running concurrently on the worker pool: a task rents one
/// for its duration. At most one buffer per thread is ever in use, so the pool holds that many and
/// renting never blocks. Buffers grow on demand and are reused across calls.
/// </summary>
public sealed unsafe class ScratchPool : IDisposable
{
    private readonly NativeBuffer<float>[] _buffers;
    private int _used; // bit i set: buffer i rented

    public ScratchPool(int slots)
    {
        if (slots is < 1 or > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(slots));
        }
        _buffers = new NativeBuffer<float>[slots];
        for (int i = 0; i < slots; i++)
        {
            _buffers[i] = new NativeBuffer<float>(0);
        }
    }

    /// <summary>Takes a free slot; returns its index (give it back with <see cref="Return"/>).</summary>
    public int Rent(long floats, out float* buffer)
    {
        while (true)
        {
            int used = Volatile.Read(ref _used);
            for (int i = 0; i < _buffers.Length; i++)
            {
                int bit = 1 << i;
                if ((used & bit) == 0 && Interlocked.CompareExchange(ref _used, used | bit, used) == used)
                {
                    _buffers[i].EnsureCapacity(floats);
                    buffer = _buffers[i].Pointer;
                    return i;
                }
            }
            Thread.SpinWait(1);
        }
    }

    public void Return(int slot)
    {
        int bit = 1 << slot;
        while (true)
        {
            int used = Volatile.Read(ref _used);
            if (Interlocked.CompareExchange(ref _used, used & ~bit, used) == used)
            {
                return;
            }
        }
    }

    public void Dispose()
    {
        foreach (var b in _buffers)
        {
            b.Dispose();
        }
    }
}
