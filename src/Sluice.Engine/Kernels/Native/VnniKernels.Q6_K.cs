using Sluice.Engine.Kernels.Gemm;

namespace Sluice.Engine.Kernels.Native;

// Q6_K: values rebuilt as q - 32 bytes, multiplied by the activations + 128, the packed correction taken off
internal static unsafe partial class VnniKernels
{
    /// <summary>
    /// One Q6_K group packed for this kernel (<see cref="Q6_KKernels.PackGroup"/>) times every token of
    /// <paramref name="x"/>; same contract as <see cref="Q6_KKernels.Rows16"/>. Per super-block the 6-bit values are
    /// rebuilt as signed bytes (q - 32) in 4 KiB of scratch once for all tokens; per token and 16-value sub-block,
    /// 4 vpdpbusd of the activations + 128 (broadcast) by those bytes, vpmulld by the sub-block's scale, and at the
    /// end the packed correction (128 times the scaled value sum) taken off: the recipe's exact sum, then its FMA.
    /// </summary>
    public static void Q6_KRows16(byte* group, int blocks, in Q8KBlocks x, float* acc, float* y, long yStride) =>
        Run(Q6_KKernel, Q6_KOneToken, group, blocks, x.Tokens, new Activations((sbyte*)x.U, 256, null, 0, x.D), acc, Scratch(acc, x.Tokens), y, yStride);

    /// <summary>The machine code of the Q6_K kernel (<see cref="Q6_KRows16"/>; layout in <see cref="Q6_KKernels"/>).</summary>
    internal static byte[] GenerateQ6_K(bool oneToken)
    {
        // registers: rdi the arguments, rbx the value scratch (pushed), r8 super-block, r9 super-blocks left, rdx tokens,
        // r10 activations + 128 (256 a token), rsi activation scales, rax a token's 16 sums, rcx tokens left;
        // zmm14 d, zmm15 the offset corrections, zmm16..31 the 16 sub-block scales; unpacking: zmm0..4 and the byte
        // constants 0x0F, 0x30, 0x20 in zmm8..10; tokens: zmm0..7 broadcast activations, zmm11 sumi, zmm12 a chain.
        // With oneToken the values go from registers straight into vpdpbusd (chains zmm5..7 and zmm12, activations
        // zmm13), without the scratch round trip and the token loop: staging only pays with several tokens.
        const int CorrAt = Q6_KKernels.CorrectionsAt, ScalesAt = Q6_KKernels.ScalesAt, QuantsAt = Q6_KKernels.QuantsAt;
        var a = new X64Assembler();
        Prologue(a, scratch: true);
        var y = Arg(nameof(Args.Y));

        int blockTop = a.Position;
        int packed = Q6_KKernels.PackedBlockBytes;
        // each step through a super-block prefetches its slice of the lines 16 KiB ahead into L2 (PrefetchAheadL2Part):
        // one token, 2 threads, a matrix larger than the caches (AMD EPYC, 131072 x 2048) read at 38-42 GMAC/s without a
        // prefetch, 54-84 with; 16 tokens, 65536 x 2048, the whole block at once / spread: 280-309 / 315-319 (2
        // super-blocks ahead into L1 made one token slower on an Intel Xeon)
        a.HalvesToFloats(14, new Mem(Gpr.R8, 0));
        a.Load(15, new Mem(Gpr.R8, CorrAt));
        for (int s = 0; s < 16; s++)
        {
            a.SignedBytesToInts(16 + s, new Mem(Gpr.R8, ScalesAt + 16 * s));
        }
        a.MovImm32(Gpr.Rax, 0x0F0F0F0F);
        a.BroadcastInt(8, Gpr.Rax);
        a.MovImm32(Gpr.Rax, 0x30303030);
        a.BroadcastInt(9, Gpr.Rax);
        a.MovImm32(Gpr.Rax, 0x20202020);
        a.BroadcastInt(10, Gpr.Rax);
        // element e = 128h + 32c + l: low 4 bits in ql byte 64h + 32(c & 1) + l (high nibble when c >= 2), high 2 bits
        // at bit 2c of qh byte 32h + l; slice ls covers l = 4ls..4ls+3, which is sub-block 8h + 2c + ls / 4, slice ls % 4
        int[] chains = [5, 6, 7, 12];
        void Value(int h, int ls, int c)
        {
            // zmm3 = the 16 rows' 4 values (q - 32) of slice ls, quarter c, from ql in zmm0/zmm1 and qh in zmm2
            int src = c & 1;
            if (c < 2)
            {
                a.And(3, src, 8);
            }
            else
            {
                a.ShiftRightShorts(3, src, 4);
                a.And(3, 3, 8);
            }
            int high = 4;
            switch (c)
            {
                case 0: a.ShiftLeftShorts(4, 2, 4); break;
                case 1: a.ShiftLeftShorts(4, 2, 2); break;
                case 2: high = 2; break;
                default: a.ShiftRightShorts(4, 2, 2); break;
            }
            a.And(4, high, 9);
            a.Or(3, 3, 4);
            a.SubBytes(3, 3, 10);
        }
        void LoadSlices(int h, int ls)
        {
            a.Load(0, new Mem(Gpr.R8, QuantsAt + 192 * (8 * h + ls)));
            a.Load(1, new Mem(Gpr.R8, QuantsAt + 192 * (8 * h + ls) + 64));
            a.Load(2, new Mem(Gpr.R8, QuantsAt + 192 * (8 * h + ls) + 128));
        }
        int tokenTop = 0;
        if (oneToken)
        {
            a.MovLoad(Gpr.Rax, y);
            a.Xor(11, 11, 11);
            for (int h = 0; h < 2; h++)
            {
                for (int half = 0; half < 2; half++)
                {
                    foreach (int chain in chains)
                    {
                        a.Xor(chain, chain, chain);
                    }
                    for (int ls = 4 * half; ls < 4 * half + 4; ls++)
                    {
                        PrefetchAheadL2Part(a, packed, 8 * h + 4 * half + (ls & 3), 16);
                        LoadSlices(h, ls);
                        for (int c = 0; c < 4; c++)
                        {
                            Value(h, ls, c);
                            int s = 8 * h + 2 * c + half;
                            a.BroadcastInt(13, new Mem(Gpr.R10, 16 * s + 4 * (ls & 3)));
                            a.DotBytes(chains[c], 13, 3);
                        }
                    }
                    for (int c = 0; c < 4; c++)
                    {
                        a.MultiplyInts(chains[c], chains[c], 16 + 8 * h + 2 * c + half);
                        a.AddInts(11, 11, chains[c]);
                    }
                }
            }
        }
        else
        {
            for (int h = 0; h < 2; h++)
            {
                for (int ls = 0; ls < 8; ls++)
                {
                    PrefetchAheadL2Part(a, packed, 8 * h + ls, 16);
                    LoadSlices(h, ls);
                    for (int c = 0; c < 4; c++)
                    {
                        Value(h, ls, c);
                        int s = 8 * h + 2 * c + (ls >> 2);
                        a.Store(new Mem(Gpr.Rbx, 64 * (4 * s + (ls & 3))), 3);
                    }
                }
            }
            a.MovLoad(Gpr.Rax, y);
            a.Mov(Gpr.Rcx, Gpr.Rdx);

            tokenTop = a.Position;
            a.Xor(11, 11, 11);
            for (int s = 0; s < 16; s++)
            {
                a.Xor(12, 12, 12);
                for (int k = 0; k < 4; k++)
                {
                    int xb = (4 * s + k) % 8;
                    a.BroadcastInt(xb, new Mem(Gpr.R10, 16 * s + 4 * k));
                    a.DotBytes(12, xb, new Mem(Gpr.Rbx, 64 * (4 * s + k)));
                }
                a.MultiplyInts(12, 12, 16 + s);
                a.AddInts(11, 11, 12);
            }
        }
        a.SubInts(11, 11, 15);
        a.IntsToFloats(11, 11);
        a.Multiply(13, 14, new Mem(Gpr.Rsi, 0, Broadcast: true));
        a.FusedMultiplyAdd213(11, 13, new Mem(Gpr.Rax, 0));
        a.Store(new Mem(Gpr.Rax, 0), 11);
        LoopEnds(a, oneToken ? -1 : tokenTop, blockTop, packed, valueBytes: 256, sumBytes: 0, scratch: true);
        return a.ToArray();
    }
}
