using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Sluice.Engine.Kernels.Gemm;

namespace Sluice.Engine.Kernels.Native;

/// <summary>
/// Q8_0, Q4_0, Q4_K and Q6_K group kernels with AVX-512 VNNI's vpdpbusd (64 byte products summed into 16 int32 lanes in one
/// instruction), which .NET 10 has no intrinsic for (only the 256-bit AVX-VNNI, which Zen 4 lacks): the machine code
/// is generated at startup with <see cref="X64Assembler"/> and called through a function pointer. The layout and
/// recipe are those of <see cref="Q8_0Kernels.Rows16"/> / <see cref="Q4_0Kernels.Rows16"/>: one row per 32-bit lane,
/// for each 4-byte slice of a block the 16 rows' slices in one register, the token's 4 matching activations
/// broadcast to every lane. vpdpbusd multiplies unsigned by signed bytes, so Q8_0 weights are packed as w + 128
/// (<see cref="Q8_0Kernels.PackGroup"/>) and 128 times the block's activation sum is taken off (Q4_0's nibbles are
/// unsigned already; their -8 takes off 8 times the sum), leaving the exact block sum. Then, as in the recipe,
/// acc = fma((float)sum, w_scale * x_scale, acc) per block in order, the weight scales widened by vcvtph2ps.
/// Q4_K and Q6_K follow <see cref="Q4_KKernels"/>' and <see cref="Q6_KKernels"/>' recipes (<see cref="Q4_KRows16"/>,
/// <see cref="Q6_KRows16"/>).
/// Used on Linux x64 when the CPU reports AVX512_VNNI and .NET's AVX-512 is on; SLUICE_VNNI=0 turns it off
/// (the tests run the kernels both ways).
/// </summary>
internal static unsafe class VnniKernels
{
    /// <summary>What the generated code reads, through one pointer (the first argument, rdi).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Args
    {
        public byte* Group;
        public long Blocks;
        public long Tokens;
        public sbyte* Q;
        public int* S;
        public float* D;
        public float* Y;
        public long YStrideBytes;
        // bytes to skip in Q, S and D after each block's tokens (the tokens of other chunks)
        public long QSkip;
        public long SSkip;
        // Q4_K: 4 KiB (64-byte aligned) for a super-block's nibbles as bytes
        public byte* Scratch;
        public long DSkip;
    }

    private static readonly delegate* unmanaged<Args*, void> Q8_0Kernel;
    private static readonly delegate* unmanaged<Args*, void> Q4_0Kernel;
    private static readonly delegate* unmanaged<Args*, void> Q4_KKernel;
    private static readonly delegate* unmanaged<Args*, void> Q4_KOneToken;
    private static readonly delegate* unmanaged<Args*, void> Q6_KKernel;
    private static readonly delegate* unmanaged<Args*, void> Q6_KOneToken;

    /// <summary>True when the VNNI kernels run (and Q8_0 groups are packed for them).</summary>
    public static readonly bool Available;

#pragma warning disable CA1810 // the kernels and the flag are set together, once
    static VnniKernels()
#pragma warning restore CA1810
    {
        if (!CpuSupported || Environment.GetEnvironmentVariable("SLUICE_VNNI") == "0")
        {
            return;
        }
        byte* q8 = ExecutableMemory.Install(Generate(GgmlBlocks.Q8_0));
        byte* q4 = ExecutableMemory.Install(Generate(GgmlBlocks.Q4_0));
        byte* q4k = ExecutableMemory.Install(GenerateQ4_K(oneToken: false));
        byte* q4k1 = ExecutableMemory.Install(GenerateQ4_K(oneToken: true));
        byte* q6k = ExecutableMemory.Install(GenerateQ6_K(oneToken: false));
        byte* q6k1 = ExecutableMemory.Install(GenerateQ6_K(oneToken: true));
        if (q8 == null || q4 == null || q4k == null || q4k1 == null || q6k == null || q6k1 == null)
        {
            return;
        }
        Q8_0Kernel = (delegate* unmanaged<Args*, void>)q8;
        Q4_0Kernel = (delegate* unmanaged<Args*, void>)q4;
        Q4_KKernel = (delegate* unmanaged<Args*, void>)q4k;
        Q4_KOneToken = (delegate* unmanaged<Args*, void>)q4k1;
        Q6_KKernel = (delegate* unmanaged<Args*, void>)q6k;
        Q6_KOneToken = (delegate* unmanaged<Args*, void>)q6k1;
        Available = true;
    }

    /// <summary>Linux on x86-64 with AVX-512 F/BW in use and the CPU reporting AVX512_VNNI (CPUID leaf 7, ECX bit 11).</summary>
    public static bool CpuSupported =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64 && Simd.Use512
        && X86Base.IsSupported && (X86Base.CpuId(7, 0).Ecx & (1 << 11)) != 0;

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
        Run(Q8_0Kernel, Q8_0Kernel, group, blocks, x.Tokens, new Activations((sbyte*)x.Q, 32, (byte*)x.S, 4, x.D), acc, null, y, yStride);

    /// <summary>One packed Q4_0 group times every token of <paramref name="x"/>; same contract as <see cref="Q4_0Kernels.Rows16"/>.</summary>
    public static void Q4_0Rows16(byte* group, int blocks, in Q8Blocks x, float* acc, float* y, long yStride) =>
        Run(Q4_0Kernel, Q4_0Kernel, group, blocks, x.Tokens, new Activations((sbyte*)x.Q, 32, (byte*)x.S, 4, x.D), acc, null, y, yStride);

    /// <summary>
    /// One Q4_K group packed for this kernel (<see cref="Q4_KKernels.PackGroup"/>) times every token of
    /// <paramref name="x"/>; same contract as <see cref="Q4_KKernels.Rows16"/> (scratch of
    /// <see cref="Q4_KKernels.ScratchFloats"/>). Per super-block the nibbles are spread to bytes in 4 KiB of scratch
    /// once for all tokens; per token and sub-block 8 vpdpbusd give the exact sub-block sums, vpmulld applies the
    /// 6-bit scales, vpdpwssd takes the mins term from the activation sums, then the recipe's two FMAs.
    /// </summary>
    public static void Q4_KRows16(byte* group, int blocks, in Q8KBlocks x, float* acc, float* y, long yStride) =>
        Run(Q4_KKernel, Q4_KOneToken, group, blocks, x.Tokens, new Activations(x.Q, 256, (byte*)x.Sums, 16, x.D), acc, Scratch(acc, x.Tokens), y, yStride);

    /// <summary>
    /// One Q6_K group packed for this kernel (<see cref="Q6_KKernels.PackGroup"/>) times every token of
    /// <paramref name="x"/>; same contract as <see cref="Q6_KKernels.Rows16"/>. Per super-block the 6-bit values are
    /// rebuilt as signed bytes (q - 32) in 4 KiB of scratch once for all tokens; per token and 16-value sub-block,
    /// 4 vpdpbusd of the activations + 128 (broadcast) by those bytes, vpmulld by the sub-block's scale, and at the
    /// end the packed correction (128 times the scaled value sum) taken off: the recipe's exact sum, then its FMA.
    /// </summary>
    public static void Q6_KRows16(byte* group, int blocks, in Q8KBlocks x, float* acc, float* y, long yStride) =>
        Run(Q6_KKernel, Q6_KOneToken, group, blocks, x.Tokens, new Activations((sbyte*)x.U, 256, null, 0, x.D), acc, Scratch(acc, x.Tokens), y, yStride);

    /// <summary>Tokens per kernel call: their 16 sums (4 KiB) and a block's activations (2 KiB) stay in L1 across the blocks.</summary>
    private const int ChunkTokens = 64;

    // what a kernel reads per (block, token): values (qBytes each), sums (sBytes each; none for Q6_K), scales
    private readonly struct Activations(sbyte* q, int qBytes, byte* s, int sBytes, float* d)
    {
        public sbyte* Q { get; } = q;
        public int QBytes { get; } = qBytes;
        public byte* S { get; } = s;
        public int SBytes { get; } = sBytes;
        public float* D { get; } = d;
    }

    // 4 KiB for a K-quant super-block's values as bytes, 64-byte aligned, after the chunk's sums in acc
    private static byte* Scratch(float* acc, int tokens) => (byte*)(((nint)(acc + 16 * Math.Min(tokens, ChunkTokens)) + 63) & ~(nint)63);

    // the kernel accumulates a chunk of tokens in contiguous scratch, copied out once: accumulating in y itself had
    // every token's row of a 2048- or 8192-row matrix a multiple of 4 KiB apart, all in one L1 set
    // (llama-3.2-1b Q4_0 prompt processing 195 -> 125 tokens/s); a chunk of one token takes oneToken
    private static void Run(delegate* unmanaged<Args*, void> kernel, delegate* unmanaged<Args*, void> oneToken, byte* group, int blocks, int n,
        Activations x, float* acc, byte* scratch, float* y, long yStride)
    {
        for (int t0 = 0; t0 < n; t0 += ChunkTokens)
        {
            int m = Math.Min(ChunkTokens, n - t0);
            if (blocks == 0)
            {
                new Span<float>(acc, m * 16).Clear();
            }
            else
            {
                var args = new Args
                {
                    Group = group,
                    Blocks = blocks,
                    Tokens = m,
                    Q = x.Q + (long)t0 * x.QBytes,
                    S = (int*)(x.S + (long)t0 * x.SBytes),
                    D = x.D + t0,
                    Y = acc,
                    YStrideBytes = 64,
                    QSkip = (long)(n - m) * x.QBytes,
                    SSkip = (long)(n - m) * x.SBytes,
                    DSkip = (n - m) * 4L,
                    Scratch = scratch,
                };
                if (m == 1)
                {
                    oneToken(&args);
                }
                else
                {
                    kernel(&args);
                }
            }
            for (int t = 0; t < m; t++)
            {
                Vector512.Load(acc + t * 16).Store(y + (t0 + t) * yStride);
            }
        }
    }

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
        var y = new Mem(Gpr.Rdi, 48);
        a.MovImm32(Gpr.Rax, 0x0F0F0F0F);
        a.BroadcastInt(31, Gpr.Rax);

        int blockTop = a.Position;
        int packed = Q4_KKernels.PackedBlockBytes;
        // no software prefetch: the super-block is read in order (with it: one token from memory no faster, 16 tokens
        // 135-137 vs 145 GMAC/s)
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
        var y = new Mem(Gpr.Rdi, 48);

        int blockTop = a.Position;
        int packed = Q6_KKernels.PackedBlockBytes;
        // no software prefetch: the layout is read in order and the hardware prefetcher keeps up; prefetching
        // 2 super-blocks ahead made one token from memory 33 -> 20 GMAC/s
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

    // every kernel's start: from the argument block (rdi, kept) r8 the group, r9 its blocks, rdx the tokens, r10
    // the activations, r11 their sums, rsi their scales (and rbx the scratch, pushed: callee-saved); then every
    // token's 16 sums set to +0, as the recipe's chain starts
    private static void Prologue(X64Assembler a, bool scratch)
    {
        if (scratch)
        {
            a.Push(Gpr.Rbx);
        }
        a.MovLoad(Gpr.R8, new Mem(Gpr.Rdi, 0));
        a.MovLoad(Gpr.R9, new Mem(Gpr.Rdi, 8));
        a.MovLoad(Gpr.Rdx, new Mem(Gpr.Rdi, 16));
        a.MovLoad(Gpr.R10, new Mem(Gpr.Rdi, 24));
        a.MovLoad(Gpr.R11, new Mem(Gpr.Rdi, 32));
        a.MovLoad(Gpr.Rsi, new Mem(Gpr.Rdi, 40));
        if (scratch)
        {
            a.MovLoad(Gpr.Rbx, new Mem(Gpr.Rdi, 80));
        }
        a.Xor(12, 12, 12);
        a.MovLoad(Gpr.Rax, new Mem(Gpr.Rdi, 48));
        a.Mov(Gpr.Rcx, Gpr.Rdx);
        int zeroTop = a.Position;
        a.Store(new Mem(Gpr.Rax, 0), 12);
        a.AddLoad(Gpr.Rax, new Mem(Gpr.Rdi, 56));
        a.Dec(Gpr.Rcx);
        a.JnzBack(zeroTop);
    }

    // every kernel's end: the activation pointers step to the next token (the token loop repeats unless tokenTop is
    // -1), then past the other chunks' tokens to the next block (the block loop repeats); return
    private static void LoopEnds(X64Assembler a, int tokenTop, int blockTop, int blockBytes, int valueBytes, int sumBytes, bool scratch)
    {
        a.AddImm(Gpr.R10, valueBytes);
        if (sumBytes > 0)
        {
            a.AddImm(Gpr.R11, sumBytes);
        }
        a.AddImm(Gpr.Rsi, 4);
        if (tokenTop >= 0)
        {
            a.AddLoad(Gpr.Rax, new Mem(Gpr.Rdi, 56));
            a.Dec(Gpr.Rcx);
            a.JnzBack(tokenTop);
        }
        a.AddLoad(Gpr.R10, new Mem(Gpr.Rdi, 64));
        if (sumBytes > 0)
        {
            a.AddLoad(Gpr.R11, new Mem(Gpr.Rdi, 72));
        }
        a.AddLoad(Gpr.Rsi, new Mem(Gpr.Rdi, 88));
        a.AddImm(Gpr.R8, blockBytes);
        a.Dec(Gpr.R9);
        a.JnzBack(blockTop);
        if (scratch)
        {
            a.Pop(Gpr.Rbx);
        }
        a.Return();
    }

    /// <summary>The machine code of one kernel (internal for the encoding tests).</summary>
    internal static byte[] Generate(GgmlBlocks type)
    {
        // registers: rdi the arguments, r8 block, r9 blocks left, rdx tokens, r10 activations, r11 activation sums,
        // rsi activation scales (all three block-major: they advance through a block's tokens, then skip the other
        // chunks' tokens), rax the 16 sums of a token, rcx tokens left; zmm0..7 the block's 8 weight slices, zmm16 its
        // scales, zmm8/zmm9 two dot chains, zmm10 the offset, zmm11 the scale product, zmm12 zero, zmm20..23 and
        // zmm31 Q4_0 unpacking
        var a = new X64Assembler();
        Prologue(a, scratch: false);
        var y = new Mem(Gpr.Rdi, 48);

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
        // the block 4 ahead into L1: with many tokens per block the loop runs long enough that the out-of-order
        // window does not reach the next block's loads, and a 152k-row output matrix streams from memory (16 tokens:
        // 170-195 -> 240-290 GMAC/s on 2 threads)
        for (int line = 0; line < (packedBlockBytes + 63) / 64; line++)
        {
            a.Prefetch(new Mem(Gpr.R8, 4 * packedBlockBytes + 64 * line));
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
