namespace Sluice.Engine.Formats.Gguf;

/// <summary>Metadata value types as numbered in the GGUF specification.</summary>
public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>
/// One metadata value. Scalars are boxed CLR values (byte, sbyte, ushort, short, uint, int, float, bool,
/// string, ulong, long, double); arrays are typed CLR arrays (string[], float[], int[], ...), with
/// <see cref="ElementType"/> naming the GGUF element type.
/// </summary>
public sealed record GgufValue(GgufValueType Type, object Value, GgufValueType ElementType = GgufValueType.UInt8)
{
    public bool IsArray => Type == GgufValueType.Array;

    /// <summary>Any integer scalar as long; null for other types.</summary>
    public long? AsInt64() => Value switch
    {
        byte v => v,
        sbyte v => v,
        ushort v => v,
        short v => v,
        uint v => v,
        int v => v,
        ulong v when v <= long.MaxValue => (long)v,
        long v => v,
        bool v => v ? 1 : 0,
        _ => null,
    };

    /// <summary>Any numeric scalar as double; null for other types.</summary>
    public double? AsDouble() => Value switch
    {
        float v => v,
        double v => v,
        _ => AsInt64(),
    };

    public override string ToString() => Value switch
    {
        string s => s,
        Array a => $"[{ElementType} x {a.Length}]",
        _ => Convert.ToString(Value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };
}
