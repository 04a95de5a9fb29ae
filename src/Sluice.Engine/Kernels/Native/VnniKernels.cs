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
internal static unsafe partial class VnniKernels
{
    /// <summary>
    /// prefetcht1 of the lines <see cref="Gemm.PackedGroups.PrefetchBytes"/> past the block at r8, as the AVX2 kernels do:
    /// with several tokens a kernel's loop over a block runs long enough that the out-of-order window does not reach the
    /// next blocks' loads, and a matrix larger than the caches was read at the memory's latency (AMD EPYC, 65536 x 2048,
    /// 2 threads, 16 tokens, GMAC/s without / with: Q4_K 248-255 / 345-352, Q6_K 235-244 / 300-308, Q8_0 and Q4_0 about
    /// 1.2-1.4x faster in time; 128 tokens: Q4_K +6%, the others the same).
    /// </summary>
    private static void PrefetchAheadL2(X64Assembler a, int blockBytes) => PrefetchAheadL2Part(a, blockBytes, 0, 1);

    /// <summary>
    /// The same for slice <paramref name="part"/> of <paramref name="parts"/> of the block's lines, for a kernel that
    /// spreads them over its steps through the block (<see cref="Gemm.PackedGroups.PrefetchAheadPart"/>).
    /// </summary>
    private static void PrefetchAheadL2Part(X64Assembler a, int blockBytes, int part, int parts)
    {
        int lines = (blockBytes + 63) / 64;
        for (int line = part * lines / parts; line < (part + 1) * lines / parts; line++)
        {
            a.PrefetchL2(new Mem(Gpr.R8, Gemm.PackedGroups.PrefetchBytes + 64 * line));
        }
    }

    /// <summary>
    /// What the generated code reads, through one pointer (the first argument, rdi). Every field is 8 bytes (the code
    /// reads them with 64-bit loads) and the code takes each offset from this layout (<see cref="Arg"/>), so fields
    /// may be reordered or added; VnniKernelTests checks the layout.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Args
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
        // Q4_K and Q6_K: 4 KiB (64-byte aligned) for a super-block's values as bytes
        public byte* Scratch;
        public long DSkip;
    }

    private static readonly delegate* unmanaged<Args*, void> Q8_0Kernel;
    private static readonly delegate* unmanaged<Args*, void> Q8_0OneToken;
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
        byte* q8 = ExecutableMemory.Install(Generate(GgmlBlocks.Q8_0, oneToken: false));
        byte* q81 = ExecutableMemory.Install(Generate(GgmlBlocks.Q8_0, oneToken: true));
        byte* q4 = ExecutableMemory.Install(Generate(GgmlBlocks.Q4_0, oneToken: false));
        byte* q4k = ExecutableMemory.Install(GenerateQ4_K(oneToken: false));
        byte* q4k1 = ExecutableMemory.Install(GenerateQ4_K(oneToken: true));
        byte* q6k = ExecutableMemory.Install(GenerateQ6_K(oneToken: false));
        byte* q6k1 = ExecutableMemory.Install(GenerateQ6_K(oneToken: true));
        if (q8 == null || q81 == null || q4 == null || q4k == null || q4k1 == null || q6k == null || q6k1 == null)
        {
            return;
        }
        Q8_0Kernel = (delegate* unmanaged<Args*, void>)q8;
        Q8_0OneToken = (delegate* unmanaged<Args*, void>)q81;
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

    /// <summary>The argument block's field <paramref name="field"/> (a name of <see cref="Args"/>), addressed through rdi.</summary>
    internal static Mem Arg(string field) => new(Gpr.Rdi, (int)Marshal.OffsetOf<Args>(field));

    // every kernel's start: from the argument block (rdi, kept) r8 the group, r9 its blocks, rdx the tokens, r10
    // the activations, r11 their sums, rsi their scales (and rbx the scratch, pushed: callee-saved); then every
    // token's 16 sums set to +0, as the recipe's chain starts
    private static void Prologue(X64Assembler a, bool scratch)
    {
        if (scratch)
        {
            a.Push(Gpr.Rbx);
        }
        a.MovLoad(Gpr.R8, Arg(nameof(Args.Group)));
        a.MovLoad(Gpr.R9, Arg(nameof(Args.Blocks)));
        a.MovLoad(Gpr.Rdx, Arg(nameof(Args.Tokens)));
        a.MovLoad(Gpr.R10, Arg(nameof(Args.Q)));
        a.MovLoad(Gpr.R11, Arg(nameof(Args.S)));
        a.MovLoad(Gpr.Rsi, Arg(nameof(Args.D)));
        if (scratch)
        {
            a.MovLoad(Gpr.Rbx, Arg(nameof(Args.Scratch)));
        }
        a.Xor(12, 12, 12);
        a.MovLoad(Gpr.Rax, Arg(nameof(Args.Y)));
        a.Mov(Gpr.Rcx, Gpr.Rdx);
        int zeroTop = a.Position;
        a.Store(new Mem(Gpr.Rax, 0), 12);
        a.AddLoad(Gpr.Rax, Arg(nameof(Args.YStrideBytes)));
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
            a.AddLoad(Gpr.Rax, Arg(nameof(Args.YStrideBytes)));
            a.Dec(Gpr.Rcx);
            a.JnzBack(tokenTop);
        }
        a.AddLoad(Gpr.R10, Arg(nameof(Args.QSkip)));
        if (sumBytes > 0)
        {
            a.AddLoad(Gpr.R11, Arg(nameof(Args.SSkip)));
        }
        a.AddLoad(Gpr.Rsi, Arg(nameof(Args.DSkip)));
        a.AddImm(Gpr.R8, blockBytes);
        a.Dec(Gpr.R9);
        a.JnzBack(blockTop);
        if (scratch)
        {
            a.Pop(Gpr.Rbx);
        }
        a.Return();
    }
}
