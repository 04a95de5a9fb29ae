using System.Runtime.CompilerServices;

namespace Sluice.Engine.Tokenization;

/// <summary>
/// A binary min-heap on a 64-bit key for the merge queues. Hand-written rather than
/// PriorityQueue&lt;T, TKey&gt; because its instantiations over our structs start as unoptimized
/// tier-0 code, which made the first long prompts several times slower. Callers make keys unique
/// among live entries, so the order of equal keys does not matter.
/// </summary>
internal sealed class MinHeap<T>
    where T : struct
{
    private (ulong Key, T Value)[] _items = new (ulong, T)[64];
    private int _count;

    public void Clear() => _count = 0;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Push(ulong key, T value)
    {
        if (_count == _items.Length)
        {
            Array.Resize(ref _items, _count * 2);
        }
        var items = _items;
        int i = _count++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (items[parent].Key <= key)
            {
                break;
            }
            items[i] = items[parent];
            i = parent;
        }
        items[i] = (key, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryPop(out T value)
    {
        if (_count == 0)
        {
            value = default;
            return false;
        }
        var items = _items;
        value = items[0].Value;
        var last = items[--_count];
        int i = 0;
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= _count)
            {
                break;
            }
            if (child + 1 < _count && items[child + 1].Key < items[child].Key)
            {
                child++;
            }
            if (items[child].Key >= last.Key)
            {
                break;
            }
            items[i] = items[child];
            i = child;
        }
        items[i] = last;
        return true;
    }
}
