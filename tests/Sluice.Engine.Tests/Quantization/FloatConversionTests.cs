using Sluice.Engine.Quantization;

namespace Sluice.Engine.Tests.Quantization;

public sealed class FloatConversionTests
{
    [Theory]
    [InlineData(0f, 0x0000)]
    [InlineData(-0f, 0x8000)]
    [InlineData(1f, 0x3C00)]
    [InlineData(-2f, 0xC000)]
    [InlineData(65504f, 0x7BFF)]
    [InlineData(65519.99f, 0x7BFF)]
    [InlineData(65520f, 0x7C00)]
    [InlineData(1e9f, 0x7C00)]
    [InlineData(float.PositiveInfinity, 0x7C00)]
    [InlineData(float.NegativeInfinity, 0xFC00)]
    [InlineData(6.1035156e-5f, 0x0400)]
    [InlineData(5.9604645e-8f, 0x0001)]
    [InlineData(2.9802322e-8f, 0x0000)]
    [InlineData(8.940697e-8f, 0x0002)]
    [InlineData(0.33325195f, 0x3555)]
    public void Float_to_half_rounds_to_nearest_even(float value, int expected)
    {
        Assert.Equal((ushort)expected, Fp16.FromFloat(value));
    }

    [Fact]
    public void Float_to_half_ties_go_to_the_even_mantissa()
    {
        // 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): even wins, so 1.
        Assert.Equal((ushort)0x3C00, Fp16.FromFloat(1f + MathF.Pow(2, -11)));
        // 1 + 3*2^-11 is halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even).
        Assert.Equal((ushort)0x3C02, Fp16.FromFloat(1f + 3 * MathF.Pow(2, -11)));
    }

    [Fact]
    public void Float_nan_becomes_quiet_half_nan_with_its_sign()
    {
        Assert.Equal((ushort)0x7E00, Fp16.FromFloat(BitConverter.UInt32BitsToSingle(0x7F80_0001)));
        Assert.Equal((ushort)0xFE00, Fp16.FromFloat(BitConverter.UInt32BitsToSingle(0xFFC0_0000)));
    }

    [Theory]
    [InlineData(0x3C00, 1f)]
    [InlineData(0xC000, -2f)]
    [InlineData(0x7BFF, 65504f)]
    [InlineData(0x0001, 5.9604645e-8f)]
    [InlineData(0x03FF, 6.0975552e-5f)]
    [InlineData(0x8000, -0f)]
    public void Half_to_float_is_exact(int half, float expected)
    {
        Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(Fp16.ToFloat((ushort)half)));
    }

    [Fact]
    public void Half_nan_widens_quiet_with_payload()
    {
        Assert.Equal(0x7FC0_2000u, BitConverter.SingleToUInt32Bits(Fp16.ToFloat(0x7C01)));
        Assert.Equal(0xFF80_0000u, BitConverter.SingleToUInt32Bits(Fp16.ToFloat(0xFC00)));
    }

    [Fact]
    public void Every_half_survives_a_round_trip_and_matches_the_runtime()
    {
        for (int h = 0; h < 65536; h++)
        {
            float f = Fp16.ToFloat((ushort)h);
            if (float.IsNaN(f))
            {
                continue;
            }
            Assert.Equal((ushort)h, Fp16.FromFloat(f));
            Assert.Equal((float)BitConverter.UInt16BitsToHalf((ushort)h), f);
        }
    }

    [Fact]
    public void Float_to_half_agrees_with_the_runtime_on_random_floats()
    {
        var rng = new Random(7);
        for (int i = 0; i < 200_000; i++)
        {
            float f = BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32));
            if (float.IsNaN(f))
            {
                continue;
            }
            Assert.Equal(BitConverter.HalfToUInt16Bits((Half)f), Fp16.FromFloat(f));
        }
    }

    [Theory]
    [InlineData(0x3F80_0000u, 0x3F80)] // 1
    [InlineData(0x3F80_8000u, 0x3F80)] // tie, kept part even: down
    [InlineData(0x3F81_8000u, 0x3F82)] // tie, kept part odd: up
    [InlineData(0x3F80_8001u, 0x3F81)] // above the tie: up
    [InlineData(0x7F7F_FFFFu, 0x7F80)] // largest float rounds to infinity
    [InlineData(0x0000_0001u, 0x0000)] // smallest subnormal rounds to zero, not flushed specially
    [InlineData(0x0001_8000u, 0x0002)] // subnormal tie to even
    [InlineData(0x7F80_0001u, 0x7FC0)] // signalling NaN: quiet bit forced, never infinity
    [InlineData(0xFFFF_FFFFu, 0xFFFF)] // NaN with all payload bits
    public void Float_to_bfloat16_rounds_like_ggml(uint floatBits, int expected)
    {
        Assert.Equal((ushort)expected, BFloat16.FromFloat(BitConverter.UInt32BitsToSingle(floatBits)));
    }

    [Fact]
    public void Bfloat16_to_float_is_the_top_half()
    {
        Assert.Equal(0xC0490000u, BitConverter.SingleToUInt32Bits(BFloat16.ToFloat(0xC049)));
    }
}
