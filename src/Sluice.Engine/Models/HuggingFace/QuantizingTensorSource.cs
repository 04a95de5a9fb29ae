using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Models.HuggingFace;

/// <summary>
/// Converts another source's matrices once, at load, into owned native memory of the types a
/// <see cref="WeightMix"/> picks (llama-quantize's choices: Q8_0 or Q4_0 with its Q6_K output rule),
/// so an F16/BF16 checkpoint runs at quantized speed. Every matrix is copied, even one whose type is
/// already right, so that after <see cref="ModelWeights.Load"/> nothing points into the inner source
/// and its mappings can be closed. Vectors are passed through: the weights decode them to arrays.
/// </summary>
public sealed unsafe class QuantizingTensorSource : ITensorSource, IDisposable
{
    private readonly ITensorSource _inner;
    private readonly WeightMix _mix;
    private readonly int _layerCount;
    private readonly ParallelOptions _parallel;
    private readonly Dictionary<string, TensorView> _converted = new(StringComparer.Ordinal);
    private readonly List<IntPtr> _allocations = [];
    private bool? _tied;

    public QuantizingTensorSource(ITensorSource inner, WeightMix mix, int layerCount, int? maxDegreeOfParallelism = null)
    {
        _inner = inner;
        _mix = mix;
        _layerCount = layerCount;
        _parallel = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism ?? Environment.ProcessorCount };
    }

    public string SourcePath => _inner.SourcePath;

    /// <summary>Bytes of converted matrices held.</summary>
    public long ConvertedBytes { get; private set; }

    public bool TryGetTensor(string name, out TensorView tensor)
    {
        if (_converted.TryGetValue(name, out tensor))
        {
            return true;
        }
        if (!_inner.TryGetTensor(name, out var source))
        {
            return false;
        }
        if (source.Dimensions.Length != 2 || HfTensorNames.RoleOf(name) is not { } role)
        {
            tensor = source;
            return true;
        }
        _tied ??= !_inner.TryGetTensor("output.weight", out _);
        long columns = source.Dimensions[0];
        var type = _mix.TypeFor(role, HfTensorNames.LayerOf(name), _layerCount, columns, _tied.Value, oneDimensional: false);
        tensor = Convert(source, type);
        _converted[name] = tensor;
        return true;
    }

    private TensorView Convert(TensorView source, GgmlType type)
    {
        long columns = source.Dimensions[0];
        long rows = source.Dimensions[1];
        long srcRowBytes = GgmlTypeInfo.RowBytes(source.Type, columns);
        long dstRowBytes = GgmlTypeInfo.RowBytes(type, columns);
        if (srcRowBytes < 0 || dstRowBytes < 0 || !Quantizer.Supports(source.Type))
        {
            throw new Formats.ModelFormatException(SourcePath, $"tensor '{source.Name}': cannot convert {columns} {GgmlTypeInfo.Name(source.Type)} columns to {GgmlTypeInfo.Name(type)}");
        }
        long bytes = dstRowBytes * rows;
        byte* dst = (byte*)Memory.NativeAllocator.Allocate((nuint)Math.Max(bytes, 1), 64, zero: false);
        _allocations.Add((IntPtr)dst);
        ConvertedBytes += bytes;
        byte* src = source.Data;
        var sourceType = source.Type;
        if (sourceType == type)
        {
            Buffer.MemoryCopy(src, dst, bytes, bytes);
        }
        else
        {
            Parallel.For(0L, rows, _parallel, () => new float[columns], (r, _, row) =>
            {
                Quantizer.Dequantize(sourceType, new ReadOnlySpan<byte>(src + r * srcRowBytes, (int)srcRowBytes), row);
                Quantizer.Quantize(type, row, new Span<byte>(dst + r * dstRowBytes, (int)dstRowBytes));
                return row;
            }, _ => { });
        }
        return new TensorView(source.Name, type, [columns, rows], dst);
    }

    public void Dispose()
    {
        foreach (var p in _allocations)
        {
            Memory.NativeAllocator.Free((void*)p);
        }
        _allocations.Clear();
        _converted.Clear();
    }
}
