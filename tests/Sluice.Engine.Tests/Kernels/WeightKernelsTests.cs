using Sluice.Engine.Kernels;
using Sluice.Engine.Kernels.Gemm;
using Sluice.Engine.Quantization;
using Sluice.Engine.Threading;

namespace Sluice.Engine.Tests.Kernels;

/// <summary>
/// One descriptor per weight type (<see cref="WeightKernels"/>): it exists for exactly the compute types, its
/// kernels are the type's own (packing a group and running its Rows16 gives bitwise the type's Dot), and a type
/// without one is refused by name at every entry point instead of falling through to another type's kernel.
/// The integer matmuls through <see cref="MatMul"/> are checked at many shapes in <see cref="IntegerDotTests"/>.
/// </summary>
[Trait("Category", "Kernels")]
public sealed unsafe class WeightKernelsTests
{
    [Fact]
    public void For_DescribesExactlyTheComputeTypes()
    {
        foreach (var type in Enum.GetValues<GgmlType>().Append((GgmlType)77))
        {
            var kernels = WeightKernels.TryFor(type);
            Assert.Equal(GgmlTypeInfo.IsSupportedForCompute(type), kernels != null);
            if (kernels == null)
            {
                continue;
            }
            Assert.Equal(type, kernels.Type);
            Assert.Equal(GgmlTypeInfo.BlockElements(type), kernels.BlockElements);
            Assert.Equal(GgmlTypeInfo.BlockBytes(type), kernels.BlockBytes);
            bool integer = kernels.Form is MatMulInputForm.Q8_0Blocks or MatMulInputForm.Q8_KBlocks;
            Assert.Equal(kernels.Form == MatMulInputForm.Q8_0Blocks, kernels.Q8_0Dot != null && kernels.Q8_0Rows16 != null);
            Assert.Equal(kernels.Form == MatMulInputForm.Q8_KBlocks, kernels.Q8_KDot != null && kernels.Q8_KRows16 != null);
            Assert.Equal(kernels.Form == MatMulInputForm.F16Tiles, kernels.F16Dot != null);
            Assert.Equal(integer, kernels.ScratchFloats != null);
            Assert.Equal(kernels.Packer != null, kernels.PackedBlockBytes > 0);
            Assert.Equal(kernels.Form != MatMulInputForm.Floats, kernels.Packer != null);
            Assert.Equal(kernels.Packer != null && Simd.Use256, kernels.Packs);
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_0, 1)]
    [InlineData(GgmlType.Q4_0, 5)]
    [InlineData(GgmlType.Q8_0, 1)]
    [InlineData(GgmlType.Q8_0, 5)]
    [InlineData(GgmlType.Q4_K, 1)]
    [InlineData(GgmlType.Q4_K, 5)]
    [InlineData(GgmlType.Q6_K, 1)]
    [InlineData(GgmlType.Q6_K, 5)]
    public void IntegerType_PacksAndItsRows16EqualsItsDot(GgmlType type, int tokens)
    {
        var kernels = WeightKernels.For(type);
        const int Rows = 16;
        int columns = 2 * Math.Max(kernels.BlockElements, 128);
        int blocks = columns / kernels.BlockElements;
        long rb = GgmlTypeInfo.RowBytes(type, columns);
        var rng = new Random((int)type * 10 + tokens);
        var weights = new byte[Rows * rb];
        for (int r = 0; r < Rows; r++)
        {
            RandomBlocks.Row(type, columns, rng).CopyTo(weights, r * rb);
        }
        var x = RandomBlocks.Floats(tokens * columns, rng, 2f);
        var packed = new byte[PackedGroups.Bytes(kernels.PackedBlockBytes, Rows, blocks)];
        var scratch = new float[16 * tokens + kernels.ScratchFloats(tokens)];
        var y = new float[tokens * Rows];
        using var pool = new WorkerPool(1);
        using var input = new MatMulInput();
        fixed (byte* wp = weights, pp = packed)
        fixed (float* xp = x, sp = scratch, yp = y)
        {
            input.Set(xp, tokens, columns);
            bool kBlocks = kernels.Form == MatMulInputForm.Q8_KBlocks;
            var q8 = kBlocks ? default : input.Q8_0Blocks(pool);
            var q8k = kBlocks ? input.Q8_KBlocks(pool) : default;
            if (kernels.Packs)
            {
                Assert.True(kernels.Packer(wp, rb, Rows, blocks, 0, pp));
                if (kBlocks)
                {
                    kernels.Q8_KRows16(pp, blocks, q8k, sp, yp, Rows);
                }
                else
                {
                    kernels.Q8_0Rows16(pp, blocks, q8, sp, yp, Rows);
                }
            }
            for (int r = 0; r < Rows; r++)
            {
                for (int t = 0; t < tokens; t++)
                {
                    byte* row = wp + r * rb;
                    // the type's own recipe, called directly: the descriptor must point at it
                    float recipe = type switch
                    {
                        GgmlType.Q4_0 => Q4_0Kernels.Dot(row, blocks, q8, t),
                        GgmlType.Q8_0 => Q8_0Kernels.Dot(row, blocks, q8, t),
                        GgmlType.Q4_K => Q4_KKernels.Dot(row, blocks, q8k, t),
                        _ => Q6_KKernels.Dot(row, blocks, q8k, t),
                    };
                    float dot = kBlocks ? kernels.Q8_KDot(row, blocks, q8k, t) : kernels.Q8_0Dot(row, blocks, q8, t);
                    Assert.Equal(BitConverter.SingleToInt32Bits(recipe), BitConverter.SingleToInt32Bits(dot));
                    if (kernels.Packs)
                    {
                        Assert.True(BitConverter.SingleToInt32Bits(recipe) == BitConverter.SingleToInt32Bits(y[t * Rows + r]),
                            $"row {r} token {t}: Rows16 {y[t * Rows + r]:R}, Dot {recipe:R} (path {Simd.Describe()})");
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q4_1)]
    [InlineData(GgmlType.Q8_K)]
    [InlineData(GgmlType.IQ4_XS)]
    [InlineData((GgmlType)77)]
    public void UnsupportedType_IsRefusedByNameAtEveryEntryPoint(GgmlType type)
    {
        string name = GgmlTypeInfo.Name(type);
        var data = new byte[64 * 1024];
        var floats = new float[1024];
        fixed (byte* dp = data)
        fixed (float* fp = floats)
        {
            byte* d = dp;
            float* f = fp;
            // packing and matmul: the descriptor is their only way to a type's packer and kernels, and a matrix
            // (all MatMul takes) cannot be made of a type without one
            Assert.Contains($"no kernels for {name}", Assert.Throws<NotSupportedException>(() => WeightKernels.For(type)).Message);
            Assert.Contains($"tensor 'w': no kernels for {name}", Assert.Throws<NotSupportedException>(() => new WeightMatrix("w", type, 16, 256, d)).Message);
            // dequantizing rows for the float kernels, on every path
            Assert.Contains($"no kernels for {name}", Assert.Throws<NotSupportedException>(() => RowDequantizer.Dequantize(type, d, 0, 256, f)).Message);
            Assert.Contains($"no kernels for {name}", Assert.Throws<NotSupportedException>(() => RowDequantizer.Granularity(type)).Message);
        }
    }
}
