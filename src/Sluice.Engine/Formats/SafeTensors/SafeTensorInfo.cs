namespace Sluice.Engine.Formats.SafeTensors;

/// <summary>
/// One tensor of a safetensors header. <see cref="Shape"/> is in PyTorch order (outermost first:
/// [out, in] for a linear layer's weight); <see cref="Begin"/>/<see cref="End"/> are byte offsets
/// into the data section that follows the header.
/// </summary>
public sealed record SafeTensorInfo(string Name, SafeTensorsDType DType, long[] Shape, long Begin, long End)
{
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Shape)
            {
                n = checked(n * d);
            }
            return n;
        }
    }

    public long ByteSize => End - Begin;

    public string ShapeString => "[" + string.Join(", ", Shape) + "]";
}
