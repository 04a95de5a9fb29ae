using System.Runtime.InteropServices;
using Sluice.Engine.Quantization;
using Sluice.Engine.Quantization.Blocks;
using Sluice.Engine.Quantization.Codecs;

namespace Sluice.Engine.Tests.Quantization;

public sealed unsafe class ActivationQuantizationTests
{
    [Fact]
    public void Q8_K_maps_the_largest_magnitude_to_minus_127_and_sums_groups_of_16()
    {
        var x = RoundTripErrorTests.Gaussian(new Random(5), 512, 3);
        x[300] = 50f; // the largest magnitude in the second block, positive
        var bytes = new byte[2 * BlockQ8_K.Bytes];
        Q8_KCodec.Quantize(x, bytes);
        var blocks = MemoryMarshal.Cast<byte, BlockQ8_K>(bytes);
        Assert.Equal(-127, blocks[1].Qs[300 - 256]);
        Assert.Equal(50f / -127f, blocks[1].D, 6);
        for (int b = 0; b < 2; b++)
        {
            for (int g = 0; g < 16; g++)
            {
                int sum = 0;
                for (int i = 0; i < 16; i++)
                {
                    sum += blocks[b].Qs[g * 16 + i];
                }
                Assert.Equal(sum, blocks[b].BSums[g]);
            }
        }
    }

    [Fact]
    public void Q8_0_reference_rounds_halves_away_from_zero()
    {
        // amax 127 gives d = 1 exactly, so x * id is x itself.
        var x = new float[32];
        x[0] = 127f;
        x[1] = 2.5f;
        x[2] = -2.5f;
        x[3] = 0.5f;
        var bytes = new byte[BlockQ8_0.Bytes];
        Q8_0Codec.Quantize(x, bytes);
        var b = MemoryMarshal.Cast<byte, BlockQ8_0>(bytes)[0];
        Assert.Equal(Fp16.FromFloat(1f), b.D);
        Assert.Equal(127, b.Qs[0]);
        Assert.Equal(3, b.Qs[1]);
        Assert.Equal(-3, b.Qs[2]);
        Assert.Equal(1, b.Qs[3]);
    }

    [Fact]
    public void Q8_0_like_the_x86_backend_rounds_halves_to_even()
    {
        var x = new float[32];
        x[0] = 127f;
        x[1] = 2.5f;
        x[2] = -2.5f;
        x[3] = 0.5f;
        var bytes = new byte[BlockQ8_0.Bytes];
        Q8_0Codec.QuantizeLikeX86Backend(x, bytes);
        var b = MemoryMarshal.Cast<byte, BlockQ8_0>(bytes)[0];
        Assert.Equal(2, b.Qs[1]);
        Assert.Equal(-2, b.Qs[2]);
        Assert.Equal(0, b.Qs[3]);
    }
}
