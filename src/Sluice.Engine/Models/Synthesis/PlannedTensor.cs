using Sluice.Engine.Quantization;

namespace Sluice.Engine.Models.Synthesis;

/// <summary>One tensor of a synthetic model: name, role, layer (-1 outside blocks), ggml dimensions and type.</summary>
public sealed record PlannedTensor(string Name, TensorRole Role, int Layer, long[] Dimensions, GgmlType Type)
{
    public long Columns => Dimensions[0];

    public long Rows => Dimensions.Length == 1 ? 1 : Dimensions[1];

    public long ElementCount => Columns * Rows;

    public long ByteSize => GgmlTypeInfo.RowBytes(Type, Columns) * Rows;
}
