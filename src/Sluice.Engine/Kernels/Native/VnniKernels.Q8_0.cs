using Sluice.Engine.Kernels.Gemm;

namespace Sluice.Engine.Kernels.Native;

// Q8_0 and Q4_0: 32-value blocks, one row per 32-bit lane, activation block sums take off the weights' offset
internal static unsafe partial class VnniKernels
{
    /// <summary>Which block type a kernel is generated for.</summary>
    internal enum GgmlBlocks
    {
        Q8_0,
        Q4_0,
    }

    /// <summary>
    /// One packed Q8_0 group (packed for this kernel) times every token of <paramref name="x"/>; same contract as
    /// <see cref="Q8_0Kernels.Rows16"/> (<paramref name="acc"/>: scratch for 16 floats per token, up to 64 tokens).
    /// </summary>
    public static void Q8_0Rows16(byte* group, int blocks, in Q8Blocks x, float* acc, float* y, long yStride) =>
        Run(Q8_0Kernel, Q8_0OneToken, group, blocks, x.Tokens, new Activations((sbyte*)x.Q, 32, (byte*)x.S, 4, x.D), acc, null, y, yStride);

    /// <summary>One packed Q4_0 group times every token of <paramref name="x"/>; same contract as <see cref="Q4_0Kernels.Rows16"/>.</summary>
    public static void Q4_0Rows16(byte* group, int blocks, in Q8Blocks x, float* acc, float* y, long yStride) =>
        Run(Q4_0Kernel, Q4_0Kernel, group, blocks, x.Tokens, new Activations((sbyte*)x.Q, 32, (byte*)x.S, 4, x.D), acc, null, y, yStride);

    /// <summary>The machine code of one kernel (internal for the encoding tests).</summary>
    internal static byte[] Generate(GgmlBlocks type, bool oneToken)
    {
        // registers: rdi the arguments, r8 block, r9 blocks left, rdx tokens, r10 activations, r11 activation sums,
        // rsi activation scales (all three block-major: they advance through a block's tokens, then skip the other
        // chunks' tokens), rax the 16 sums of a token, rcx tokens left; zmm0..7 the block's 8 weight slices, zmm16 its
        // scales, zmm8/zmm9 two dot chains, zmm10 the offset, zmm11 the scale product, zmm12 zero, zmm20..23 and
        // zmm31 Q4_0 unpacking
        var a = new X64Assembler();
        Prologue(a, scratch: false);
        var y = Arg(nameof(Args.Y));

        int packedBlockBytes;
        byte offsetShift;
        if (type == GgmlBlocks.Q4_0)
        {
            a.MovImm32(Gpr.Rax, 0x0F0F0F0F);
            a.BroadcastInt(31, Gpr.Rax);
            packedBlockBytes = Q4_0Kernels.PackedBlockBytes;
            offsetShift = 3;
        }
        else
        {
            packedBlockBytes = Q8_0Kernels.PackedBlockBytes;
            offsetShift = 7;
        }

        int blockTop = a.Position;
        if (type == GgmlBlocks.Q8_0 && oneToken)
        {
            // Q8_0 decode: the block 4 ahead into L1 (16 KiB ahead into L2 was 5% slower on an AMD EPYC)
            for (int line = 0; line < (packedBlockBytes + 63) / 64; line++)
            {
                a.Prefetch(new Mem(Gpr.R8, 4 * packedBlockBytes + 64 * line));
            }
        }
        else
        {
            // several tokens (and Q4_0 decode: 0.79-0.85 ms against 1.07-1.46 for a 65536 x 2048 matrix with the block
            // 4 ahead into L1, which had taken 16 tokens of Q8_0 from 170-195 to 240-290 GMAC/s on an Intel Xeon)
            PrefetchAheadL2(a, packedBlockBytes);
        }
        a.HalvesToFloats(16, new Mem(Gpr.R8, 0));
        if (type == GgmlBlocks.Q4_0)
        {
            // slice i: low nibbles are values 4i..4i+3 (zmm i), high nibbles values 16+4i.. (zmm 4+i)
            for (int i = 0; i < 4; i++)
            {
                a.Load(20 + i, new Mem(Gpr.R8, 32 + 64 * i));
                a.And(i, 20 + i, 31);
                a.ShiftRightShorts(20 + i, 20 + i, 4);
                a.And(4 + i, 20 + i, 31);
            }
        }
        else
        {
            for (int s = 0; s < 8; s++)
            {
                a.Load(s, new Mem(Gpr.R8, 32 + 64 * s));
            }
        }
        a.MovLoad(Gpr.Rax, y);
        a.Mov(Gpr.Rcx, Gpr.Rdx);

        int tokenTop = a.Position;
        a.BroadcastInt(10, new Mem(Gpr.R11, 0));
        a.ShiftLeftInts(10, 10, offsetShift);
        a.Xor(8, 8, 8);
        a.Xor(9, 9, 9);
        for (int s = 0; s < 8; s++)
        {
            a.DotBytes(8 + (s & 1), s, new Mem(Gpr.R10, 4 * s, Broadcast: true));
        }
        a.AddInts(8, 8, 9);
        a.SubInts(8, 8, 10);
        a.IntsToFloats(8, 8);
        a.Multiply(11, 16, new Mem(Gpr.Rsi, 0, Broadcast: true));
        a.FusedMultiplyAdd213(8, 11, new Mem(Gpr.Rax, 0));
        a.Store(new Mem(Gpr.Rax, 0), 8);
        LoopEnds(a, tokenTop, blockTop, packedBlockBytes, valueBytes: 32, sumBytes: 4, scratch: false);
        return a.ToArray();
    }
}
