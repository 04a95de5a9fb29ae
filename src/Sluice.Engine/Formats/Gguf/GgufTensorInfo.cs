using Sluice.Engine.Quantization;

namespace Sluice.Engine.Formats.Gguf;

/// <summary>
/// A tensor's header entry. <see cref="Dimensions"/> are in ggml order: element 0 is the innermost
/// (contiguous) dimension, so a weight matrix of shape (rows=out, cols=in) has Dimensions [in, out].
/// </summary>
public sealed record GgufTensorInfo(string Name, GgmlType Type, long[] Dimensions, long Offset, long ByteSize)
{
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Dimensions)
            {
                n *= d;
            }
            return n;
        }
    }

    /// <summary>Row length (innermost dimension).</summary>
    public long Columns => Dimensions.Length > 0 ? Dimensions[0] : 1;

    /// <summary>Number of rows: product of all dimensions but the innermost.</summary>
    public long Rows => Dimensions.Length == 0 ? 1 : ElementCount / Dimensions[0];

    public string ShapeString => "[" + string.Join(", ", Dimensions) + "]";
}
