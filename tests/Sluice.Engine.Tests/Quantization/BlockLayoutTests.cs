using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Sluice.Engine.Quantization;
using Sluice.Engine.Quantization.Blocks;

namespace Sluice.Engine.Tests.Quantization;

public sealed class BlockLayoutTests
{
    [Fact]
    public void Block_structs_have_ggml_sizes()
    {
        Assert.Equal(34, Unsafe.SizeOf<BlockQ8_0>());
        Assert.Equal(18, Unsafe.SizeOf<BlockQ4_0>());
        Assert.Equal(144, Unsafe.SizeOf<BlockQ4_K>());
        Assert.Equal(210, Unsafe.SizeOf<BlockQ6_K>());
        Assert.Equal(292, Unsafe.SizeOf<BlockQ8_K>());
    }

    [Fact]
    public void Block_constants_agree_with_the_type_table()
    {
        Assert.Equal(BlockQ8_0.Bytes, GgmlTypeInfo.BlockBytes(GgmlType.Q8_0));
        Assert.Equal(BlockQ4_0.Bytes, GgmlTypeInfo.BlockBytes(GgmlType.Q4_0));
        Assert.Equal(BlockQ4_K.Bytes, GgmlTypeInfo.BlockBytes(GgmlType.Q4_K));
        Assert.Equal(BlockQ6_K.Bytes, GgmlTypeInfo.BlockBytes(GgmlType.Q6_K));
        Assert.Equal(BlockQ8_K.Bytes, GgmlTypeInfo.BlockBytes(GgmlType.Q8_K));
        Assert.Equal(BlockQ4_K.Elements, GgmlTypeInfo.BlockElements(GgmlType.Q4_K));
        Assert.Equal(BlockQ4_0.Elements, GgmlTypeInfo.BlockElements(GgmlType.Q4_0));
    }

    [Fact]
    public void Scale_fields_sit_where_ggml_puts_them()
    {
        Assert.Equal(0, (int)Marshal.OffsetOf<BlockQ4_K>(nameof(BlockQ4_K.D)));
        Assert.Equal(2, (int)Marshal.OffsetOf<BlockQ4_K>(nameof(BlockQ4_K.DMin)));
        Assert.Equal(4, (int)Marshal.OffsetOf<BlockQ4_K>(nameof(BlockQ4_K.Scales)));
        Assert.Equal(208, (int)Marshal.OffsetOf<BlockQ6_K>(nameof(BlockQ6_K.D)));
        Assert.Equal(260, (int)Marshal.OffsetOf<BlockQ8_K>(nameof(BlockQ8_K.BSums)));
    }
}
