using Sluice.Engine.Quantization;

namespace Sluice.Engine.Kernels;

/// <summary>
/// A weight matrix of <see cref="Rows"/> output features by <see cref="Columns"/> inputs, stored
/// row-major in ggml's block format, usually a view into the model file's bytes.
/// </summary>
public sealed unsafe class WeightMatrix
{
    /// <param name="releasable">
    /// Once the matrix is repacked (<see cref="Packed"/>) its rows are never read again, so the pages of
    /// <paramref name="data"/> are handed back to the system and the copy does not double the memory the
    /// model holds. False for a matrix whose rows are read directly too (a token embedding tied to the output).
    /// </param>
    public WeightMatrix(string name, GgmlType type, int rows, int columns, byte* data, bool releasable = false)
    {
        var kernels = WeightKernels.TryFor(type) ?? throw new NotSupportedException($"tensor '{name}': {WeightKernels.Unsupported(type).Message}");
        long rowBytes = GgmlTypeInfo.RowBytes(type, columns);
        if (rowBytes < 0)
        {
            throw new ArgumentException($"tensor '{name}': row length {columns} is not a multiple of the {GgmlTypeInfo.Name(type)} block size");
        }
        Name = name;
        Type = type;
        Kernels = kernels;
        Rows = rows;
        Columns = columns;
        Data = data;
        RowBytes = rowBytes;
        _releasable = releasable;
    }

    private readonly bool _releasable;

    public string Name { get; }
    public GgmlType Type { get; }

    /// <summary>The kernels of <see cref="Type"/>, looked up once.</summary>
    internal WeightKernels Kernels { get; }
    public int Rows { get; }
    public int Columns { get; }
    public byte* Data { get; }
    public long RowBytes { get; }
    public long ByteSize => RowBytes * Rows;

    public byte* Row(int r) => Data + r * RowBytes;

    private readonly Lock _packLock = new();
    private byte* _packed;
    private ulong* _subnormalColumns;

    // what holds _packed and _subnormalColumns: private buffers, or null when they point into a mapped cache file
    private NativeBuffer<byte>? _packedBuffer;
    private NativeBuffer<ulong>? _subnormalBuffer;
    private volatile bool _packTried;

    /// <summary>
    /// The matrix repacked in 16-row groups (made once, on first use; the same size as the matrix) when its
    /// type's kernels pack on this machine (<see cref="WeightKernels.Packs"/>: Q4_0, Q8_0, Q4_K and Q6_K for the
    /// integer kernels, <see cref="Gemm.PackedGroups"/>, and F16, <see cref="Gemm.F16Kernels"/>, with AVX2 or
    /// AVX-512) and it has at least 16 rows. Null otherwise, or when
    /// a block scale (F16: a value) is an infinity or NaN; matmuls then take the one-row path, which
    /// gives the same results.
    /// </summary>
    public byte* Packed
    {
        get
        {
            // read on every matmul: the lock only until the one packing attempt is over
            if (!_packTried)
            {
                Pack();
            }
            return _packed;
        }
    }

    /// <summary>
    /// Packed F16 only: per 16-row group, <see cref="SubnormalWords"/> words with bit i set where column i holds a
    /// subnormal half. Those columns take an exact widening against unscaled activations, because the scaled
    /// widening would make them float denormals, which cost Intel cores a microcode assist on every FMA.
    /// </summary>
    public ulong* F16SubnormalColumns => _subnormalColumns;

    /// <summary>Words of <see cref="F16SubnormalColumns"/> per group.</summary>
    public int SubnormalWords => (Columns + 63) / 64;

    private void Pack()
    {
        lock (_packLock)
        {
            if (_packTried)
            {
                return;
            }
            if (Kernels.Packs && Rows >= 16)
            {
                int blocks = Columns / Kernels.BlockElements;
                var buffer = new NativeBuffer<byte>(Gemm.PackedGroups.Bytes(Kernels.PackedBlockBytes, Rows, blocks), hugePages: true);
                if (Gemm.PackedGroups.PackAll(Kernels.Packer, Data, RowBytes, Rows, blocks, buffer.Pointer))
                {
                    if (Type == GgmlType.F16)
                    {
                        _subnormalBuffer = new NativeBuffer<ulong>(SubnormalWordCount);
                        Gemm.F16Kernels.MarkSubnormalColumns(buffer.Pointer, Gemm.PackedGroups.Groups(Rows), Columns, _subnormalBuffer.Pointer);
                        _subnormalColumns = _subnormalBuffer.Pointer;
                    }
                    _packedBuffer = buffer;
                    _packed = buffer.Pointer;
                    ReleaseOriginal();
                }
                else
                {
                    buffer.Dispose();
                }
            }
            // written last: a reader that sees it set also sees _packed
            _packTried = true;
        }
    }

    private void ReleaseOriginal()
    {
        if (_releasable)
        {
            MappedPages.Release(Data, ByteSize);
        }
    }

    /// <summary>Whether this matrix's type packs on this machine (see <see cref="Packed"/>): what a packed-weights cache holds.</summary>
    public bool Packable => Kernels.Packs && Rows >= 16;

    /// <summary>Bytes of the packed form, when <see cref="Packable"/>.</summary>
    public long PackedByteSize => Packable ? Gemm.PackedGroups.Bytes(Kernels.PackedBlockBytes, Rows, Columns / Kernels.BlockElements) : 0;

    /// <summary>Words of <see cref="F16SubnormalColumns"/> in all (packed F16 only).</summary>
    public long SubnormalWordCount => Type == GgmlType.F16 && Packable ? (long)Gemm.PackedGroups.Groups(Rows) * SubnormalWords : 0;

    /// <summary>Packs now if not yet tried (what the first matmul would do), e.g. at load rather than on the first request.</summary>
    public void PackNow()
    {
        if (!_packTried)
        {
            Pack();
        }
    }

    /// <summary>
    /// Takes the packed form from elsewhere (a memory-mapped packed-weights cache, read-only and shared between
    /// processes) instead of packing: <paramref name="packed"/> null means packing failed when the cache was built (a
    /// non-finite scale), so matmuls take the one-row path as they would have. The memory stays the caller's and must
    /// outlive the matrix. A private packed copy made earlier is freed. Call before the matrix is used concurrently.
    /// </summary>
    public void UsePacked(byte* packed, ulong* subnormalColumns)
    {
        lock (_packLock)
        {
            _packedBuffer?.Dispose();
            _subnormalBuffer?.Dispose();
            _packedBuffer = null;
            _subnormalBuffer = null;
            _packed = packed;
            _subnormalColumns = subnormalColumns;
            if (!_packTried && packed != null)
            {
                ReleaseOriginal();
            }
            _packTried = true;
        }
    }
}

/// <summary>The float form a matmul's input rows take for a float weight type.</summary>
public enum ActivationKind
{
    F32,
    F16Rounded,
    BF16Rounded,
}
