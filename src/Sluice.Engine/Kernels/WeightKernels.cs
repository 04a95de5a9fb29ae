using System.Diagnostics.CodeAnalysis;
using Sluice.Engine.Kernels.Gemm;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Kernels;

/// <summary>The form of a matmul's input a weight type's kernels multiply (<see cref="MatMulInput"/> makes each once per input).</summary>
internal enum MatMulInputForm
{
    /// <summary>Q8_0 blocks (<see cref="MatMulInput.Q8_0Blocks"/>): integer block dots.</summary>
    Q8_0Blocks,

    /// <summary>Q8_K blocks (<see cref="MatMulInput.Q8_KBlocks"/>): integer block dots of the K-quants.</summary>
    Q8_KBlocks,

    /// <summary>
    /// Halves times 2^112 in token tiles (<see cref="MatMulInput.F16Tiles"/>) for packed groups; the input rounded to
    /// halves (<see cref="WeightKernels.FloatInput"/>) for the one-row recipe.
    /// </summary>
    F16Tiles,

    /// <summary>Floats (<see cref="WeightKernels.FloatInput"/>) times rows expanded by <see cref="RowDequantizer"/>.</summary>
    Floats,
}

/// <summary>
/// What the kernels know of one weight type, in one place: block geometry, the input form its kernels take, its
/// one-row recipe (<c>Dot</c>), its 16-row group kernel (<c>Rows16</c>) with the scratch that needs, and how a matrix
/// is repacked for it. <see cref="MatMul"/> and <see cref="WeightMatrix"/> read a matrix's descriptor, looked up
/// once when the matrix is made, and call its kernels through function pointers once per 16-row group (a row and a
/// token for the recipe), so the hot loops stay free of dispatch. A type is added here and nowhere else in the
/// dispatch; a type without a descriptor throws <see cref="NotSupportedException"/> naming it.
/// </summary>
internal sealed unsafe class WeightKernels
{
    public static readonly WeightKernels Q4_0 = new()
    {
        Type = GgmlType.Q4_0,
        Form = MatMulInputForm.Q8_0Blocks,
        PackedBlockBytes = Q4_0Kernels.PackedBlockBytes,
        Packer = Q4_0Kernels.PackGroup,
        Q8_0Dot = &Q4_0Kernels.Dot,
        Q8_0Rows16 = &Q4_0Kernels.Rows16,
        ScratchFloats = &Q4_0Kernels.ScratchFloats,
    };

    public static readonly WeightKernels Q8_0 = new()
    {
        Type = GgmlType.Q8_0,
        Form = MatMulInputForm.Q8_0Blocks,
        PackedBlockBytes = Q8_0Kernels.PackedBlockBytes,
        Packer = Q8_0Kernels.PackGroup,
        Q8_0Dot = &Q8_0Kernels.Dot,
        Q8_0Rows16 = &Q8_0Kernels.Rows16,
        ScratchFloats = &Q8_0Kernels.ScratchFloats,
    };

    public static readonly WeightKernels Q4_K = new()
    {
        Type = GgmlType.Q4_K,
        Form = MatMulInputForm.Q8_KBlocks,
        PackedBlockBytes = Q4_KKernels.PackedBlockBytes,
        Packer = Q4_KKernels.PackGroup,
        Q8_KDot = &Q4_KKernels.Dot,
        Q8_KRows16 = &Q4_KKernels.Rows16,
        ScratchFloats = &Q4_KKernels.ScratchFloats,
    };

    public static readonly WeightKernels Q6_K = new()
    {
        Type = GgmlType.Q6_K,
        Form = MatMulInputForm.Q8_KBlocks,
        PackedBlockBytes = Q6_KKernels.PackedBlockBytes,
        Packer = Q6_KKernels.PackGroup,
        Q8_KDot = &Q6_KKernels.Dot,
        Q8_KRows16 = &Q6_KKernels.Rows16,
        ScratchFloats = &Q6_KKernels.ScratchFloats,
    };

    // packed groups are column by column (a "block" is one column); MatMul's F16 tiling drives F16Kernels.Tile
    public static readonly WeightKernels F16 = new()
    {
        Type = GgmlType.F16,
        Form = MatMulInputForm.F16Tiles,
        FloatInput = ActivationKind.F16Rounded,
        PackedBlockBytes = F16Kernels.PackedBlockBytes,
        Packer = F16Kernels.PackGroup,
        F16Dot = &F16Kernels.Dot,
    };

    public static readonly WeightKernels BF16 = new() { Type = GgmlType.BF16, Form = MatMulInputForm.Floats, FloatInput = ActivationKind.BF16Rounded };

    public static readonly WeightKernels F32 = new() { Type = GgmlType.F32, Form = MatMulInputForm.Floats, FloatInput = ActivationKind.F32 };

    /// <summary>The descriptor of <paramref name="type"/>, or null when it has no kernels.</summary>
    public static WeightKernels? TryFor(GgmlType type) => type switch
    {
        GgmlType.Q4_0 => Q4_0,
        GgmlType.Q8_0 => Q8_0,
        GgmlType.Q4_K => Q4_K,
        GgmlType.Q6_K => Q6_K,
        GgmlType.F16 => F16,
        GgmlType.BF16 => BF16,
        GgmlType.F32 => F32,
        _ => null,
    };

    /// <summary>The descriptor of <paramref name="type"/>; <see cref="NotSupportedException"/> naming it when it has none.</summary>
    public static WeightKernels For(GgmlType type) => TryFor(type) ?? ThrowUnsupported(type);

    /// <summary>"no kernels for Q5_K (supported: ...)".</summary>
    public static NotSupportedException Unsupported(GgmlType type) =>
        new($"no kernels for {GgmlTypeInfo.Name(type)} (supported: {string.Join(", ", Enum.GetValues<GgmlType>().Where(t => TryFor(t) != null).Select(GgmlTypeInfo.Name))})");

    [DoesNotReturn]
    private static WeightKernels ThrowUnsupported(GgmlType type) => throw Unsupported(type);

    private WeightKernels()
    {
    }

    public GgmlType Type { get; private init; }

    /// <summary>Elements per block (1 for the float types).</summary>
    public int BlockElements => GgmlTypeInfo.BlockElements(Type);

    /// <summary>Bytes per block in the matrix as stored.</summary>
    public int BlockBytes => GgmlTypeInfo.BlockBytes(Type);

    /// <summary>The input form the kernels take.</summary>
    public MatMulInputForm Form { get; private init; }

    /// <summary>The float form of the input for <see cref="MatMulInputForm.Floats"/>, and for F16's one-row recipe.</summary>
    public ActivationKind FloatInput { get; private init; }

    /// <summary>Bytes one 16-row group takes per block (F16: per column) once packed; 0 for a type never packed.</summary>
    public int PackedBlockBytes { get; private init; }

    /// <summary>Packs one 16-row group; null for a type never packed.</summary>
    public PackedGroups.GroupPacker? Packer { get; private init; }

    /// <summary>
    /// True when a matrix of this type is repacked into 16-row groups on this machine: every packed kernel has
    /// AVX2 and AVX-512 forms (and the VNNI ones, which Q8_0's packer lays out for when they run), none a scalar one.
    /// </summary>
    [MemberNotNullWhen(true, nameof(Packer))]
    public bool Packs => Packer is not null && Simd.Use256;

    /// <summary>The one-row recipe against Q8_0 blocks: row, blocks, input, token.</summary>
    public delegate*<byte*, int, in Q8Blocks, int, float> Q8_0Dot { get; private init; }

    /// <summary>One packed group times every token against Q8_0 blocks: group, blocks, input, scratch, y, y stride.</summary>
    public delegate*<byte*, int, in Q8Blocks, float*, float*, long, void> Q8_0Rows16 { get; private init; }

    /// <summary>The one-row recipe against Q8_K blocks.</summary>
    public delegate*<byte*, int, in Q8KBlocks, int, float> Q8_KDot { get; private init; }

    /// <summary>One packed group times every token against Q8_K blocks.</summary>
    public delegate*<byte*, int, in Q8KBlocks, float*, float*, long, void> Q8_KRows16 { get; private init; }

    /// <summary>F16's one-row recipe: row, input rounded to halves, columns.</summary>
    public delegate*<byte*, float*, int, float> F16Dot { get; private init; }

    /// <summary>Scratch floats the group kernel needs for a number of tokens (its 16 sums per token included).</summary>
    public delegate*<int, long> ScratchFloats { get; private init; }

    public override string ToString() => GgmlTypeInfo.Name(Type);
}
