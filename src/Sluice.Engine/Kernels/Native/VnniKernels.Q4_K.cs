using Sluice.Engine.Kernels.Gemm;

namespace Sluice.Engine.Kernels.Native;

// Q4_K: nibbles spread to bytes in scratch once per super-block, 6-bit scales by vpmulld, mins by vpdpwssd
internal static unsafe partial class VnniKernels
{
    /// <summary>
    /// One Q4_K group packed for this kernel (<see cref="Q4_KKernels.PackGroup"/>) times every token of
    /// <paramref name="x"/>; same contract as <see cref="Q4_KKernels.Rows16"/> (scratch of
    /// <see cref="Q4_KKernels.ScratchFloats"/>). Per super-block the nibbles are spread to bytes in 4 KiB of scratch
    /// once for all tokens; per token and sub-block 8 vpdpbusd give the exact sub-block sums, vpmulld applies the
    /// 6-bit scales, vpdpwssd takes the mins term from the activation sums, then the recipe's two FMAs.
    /// </summary>
    public static void Q4_KRows16(byte* group, int blocks, in Q8KBlocks x, float* acc, float* y, long yStride) =>
        Run(Q4_KKernel, Q4_KOneToken, group, blocks, x.Tokens, new Activations(x.Q, 256, (byte*)x.Sums, 16, x.D), acc, Scratch(acc, x.Tokens), y, yStride);

    /// <summary>The machine code of the Q4_K kernel (<see cref="Q4_KRows16"/>; layout in <see cref="Q4_KKernels"/>).</summary>
    internal static byte[] GenerateQ4_K(bool oneToken)
    {
        // registers: rdi the arguments, rbx the nibble scratch (callee-saved: pushed), r8 super-block, r9 super-blocks
        // left, rdx tokens, r10 activations (256 a token), r11 activation sums (8 int16 a token), rsi activation
        // scales, rax a token's 16 sums, rcx tokens left; zmm16/17 d and dmin, zmm18..21 the mins pairs, zmm22..29 the
        // 8 sub-block scales, zmm31 0x0F bytes; zmm0..7 weight slices, zmm8/9 (and 12/13) dot chains, zmm10 sumi,
        // zmm11 summ. With oneToken the nibbles go from registers straight into vpdpbusd (no scratch, no token loop):
        // staging them for reuse only pays with several tokens.
        const int MinsAt = Q4_KKernels.MinsAt, ScalesAt = Q4_KKernels.ScalesAt, QuantsAt = Q4_KKernels.QuantsAt;
        var a = new X64Assembler();
        Prologue(a, scratch: true);
        var y = Arg(nameof(Args.Y));
        a.MovImm32(Gpr.Rax, 0x0F0F0F0F);
        a.BroadcastInt(31, Gpr.Rax);

        int blockTop = a.Position;
        int packed = Q4_KKernels.PackedBlockBytes;
        // each step through a super-block prefetches its slice of the lines 16 KiB ahead into L2 (PrefetchAheadL2Part):
        // one token, 2 threads, a matrix larger than the caches (AMD EPYC, 131072 x 2048) read at 50-100 GMAC/s from run
        // to run without a prefetch, 70-102 with; 16 tokens, 65536 x 2048, the whole block at once / spread: 303-322 /
        // 334-367 (prefetching into L1 was no faster on an Intel Xeon)
        a.HalvesToFloats(16, new Mem(Gpr.R8, 0));
        a.HalvesToFloats(17, new Mem(Gpr.R8, 32));
        for (int p = 0; p < 4; p++)
        {
            a.Load(18 + p, new Mem(Gpr.R8, MinsAt + 64 * p));
        }
        for (int s = 0; s < 8; s++)
        {
            a.BytesToInts(22 + s, new Mem(Gpr.R8, ScalesAt + 16 * s));
        }
        a.MovLoad(Gpr.Rax, y);
        int tokenTop = 0;
        if (oneToken)
        {
            a.Xor(10, 10, 10);
            for (int c = 0; c < 4; c++)
            {
                // slice 8c + k: low nibbles are sub-block 2c's values 4k.., high nibbles sub-block 2c + 1's
                a.Xor(8, 8, 8);
                a.Xor(9, 9, 9);
                a.Xor(12, 12, 12);
                a.Xor(13, 13, 13);
                for (int k = 0; k < 8; k++)
                {
                    int z = k % 4, hi = 4 + k % 4;
                    PrefetchAheadL2Part(a, packed, 8 * c + k, 32);
                    a.Load(z, new Mem(Gpr.R8, QuantsAt + 64 * (8 * c + k)));
                    a.ShiftRightShorts(hi, z, 4);
                    a.And(z, z, 31);
                    a.And(hi, hi, 31);
                    a.DotBytes(8 + (k & 1), z, new Mem(Gpr.R10, 32 * (2 * c) + 4 * k, Broadcast: true));
                    a.DotBytes(12 + (k & 1), hi, new Mem(Gpr.R10, 32 * (2 * c + 1) + 4 * k, Broadcast: true));
                }
                a.AddInts(8, 8, 9);
                a.MultiplyInts(8, 8, 22 + 2 * c);
                a.AddInts(10, 10, 8);
                a.AddInts(12, 12, 13);
                a.MultiplyInts(12, 12, 22 + 2 * c + 1);
                a.AddInts(10, 10, 12);
            }
        }
        else
        {
            for (int i = 0; i < 32; i++)
            {
                int c = i / 8, k = i % 8, z = i % 4, hi = 4 + i % 4;
                PrefetchAheadL2Part(a, packed, i, 32);
                a.Load(z, new Mem(Gpr.R8, QuantsAt + 64 * i));
                a.ShiftRightShorts(hi, z, 4);
                a.And(z, z, 31);
                a.And(hi, hi, 31);
                a.Store(new Mem(Gpr.Rbx, 64 * (16 * c + k)), z);
                a.Store(new Mem(Gpr.Rbx, 64 * (16 * c + 8 + k)), hi);
            }
            a.Mov(Gpr.Rcx, Gpr.Rdx);
            tokenTop = a.Position;
            a.Xor(10, 10, 10);
            for (int s = 0; s < 8; s++)
            {
                a.Xor(8, 8, 8);
                a.Xor(9, 9, 9);
                for (int k = 0; k < 8; k++)
                {
                    a.Load(k, new Mem(Gpr.Rbx, 64 * (8 * s + k)));
                    a.DotBytes(8 + (k & 1), k, new Mem(Gpr.R10, 32 * s + 4 * k, Broadcast: true));
                }
                a.AddInts(8, 8, 9);
                a.MultiplyInts(8, 8, 22 + s);
                a.AddInts(10, 10, 8);
            }
        }
        a.Xor(11, 11, 11);
        for (int p = 0; p < 4; p++)
        {
            a.DotShorts(11, 18 + p, new Mem(Gpr.R11, 4 * p, Broadcast: true));
        }
        // acc = fma(sumi, d * dx, acc); acc = fma(-summ, dmin * dx, acc)
        a.IntsToFloats(10, 10);
        a.Multiply(12, 16, new Mem(Gpr.Rsi, 0, Broadcast: true));
        a.FusedMultiplyAdd213(10, 12, new Mem(Gpr.Rax, 0));
        a.Xor(13, 13, 13);
        a.SubInts(11, 13, 11);
        a.IntsToFloats(11, 11);
        a.Multiply(12, 17, new Mem(Gpr.Rsi, 0, Broadcast: true));
        a.FusedMultiplyAdd213(11, 12, 10);
        a.Store(new Mem(Gpr.Rax, 0), 11);
        LoopEnds(a, oneToken ? -1 : tokenTop, blockTop, packed, valueBytes: 256, sumBytes: 16, scratch: true);
        return a.ToArray();
    }
}
