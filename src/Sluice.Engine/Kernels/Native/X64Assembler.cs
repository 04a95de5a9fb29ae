namespace Sluice.Engine.Kernels.Native;

/// <summary>x86-64 general-purpose registers, numbered as the instruction encoding numbers them.</summary>
internal enum Gpr
{
    Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15,
}

/// <summary>A memory operand [base + disp]; <see cref="Broadcast"/> reads one 32-bit element and repeats it in every lane ({1to16}).</summary>
internal readonly record struct Mem(Gpr Base, int Disp = 0, bool Broadcast = false)
{
    public Mem Bcst => this with { Broadcast = true };
}

/// <summary>
/// Writes the few x86-64 instructions the generated kernels need (<see cref="VnniKernels"/>): 64-bit moves,
/// adds and loops on general registers, and AVX-512 instructions on zmm0..zmm31 in their EVEX encoding,
/// register or memory operands, memory always as [base + disp32]. Encodings follow the Intel SDM volume 2
/// (2.2.1 REX, 2.7 EVEX): for EVEX, P0 = R X B R' 0 0 m m, P1 = W vvvv 1 p p, P2 = z L'L b V' a a a, the register
/// extension bits and vvvv stored inverted. The bytes are checked against GNU as in the tests.
/// </summary>
internal sealed class X64Assembler
{
    private readonly List<byte> _code = [];

    public int Position => _code.Count;

    public byte[] ToArray() => [.. _code];

    // ---- general-purpose instructions (64-bit operand size) ----

    /// <summary>mov dst, qword [base + disp]</summary>
    public void MovLoad(Gpr dst, Mem m)
    {
        Rex(true, (int)dst, (int)m.Base);
        _code.Add(0x8B);
        MemModRm((int)dst, m);
    }

    /// <summary>mov dst, src</summary>
    public void Mov(Gpr dst, Gpr src)
    {
        Rex(true, (int)src, (int)dst);
        _code.Add(0x89);
        _code.Add(ModRm(3, (int)src, (int)dst));
    }

    /// <summary>mov dst32, imm32 (zero-extends to 64 bits)</summary>
    public void MovImm32(Gpr dst, uint imm)
    {
        if ((int)dst >= 8)
        {
            _code.Add(0x41);
        }
        _code.Add((byte)(0xB8 + ((int)dst & 7)));
        Int32((int)imm);
    }

    /// <summary>add dst, imm32</summary>
    public void AddImm(Gpr dst, int imm)
    {
        Rex(true, 0, (int)dst);
        _code.Add(0x81);
        _code.Add(ModRm(3, 0, (int)dst));
        Int32(imm);
    }

    /// <summary>add dst, qword [base + disp]</summary>
    public void AddLoad(Gpr dst, Mem m)
    {
        Rex(true, (int)dst, (int)m.Base);
        _code.Add(0x03);
        MemModRm((int)dst, m);
    }

    /// <summary>prefetcht0 [base + disp]</summary>
    public void Prefetch(Mem m) => PrefetchHint(1, m);

    /// <summary>prefetcht1 [base + disp]: into L2</summary>
    public void PrefetchL2(Mem m) => PrefetchHint(2, m);

    private void PrefetchHint(int hint, Mem m)
    {
        if ((int)m.Base >= 8)
        {
            _code.Add(0x41);
        }
        _code.Add(0x0F);
        _code.Add(0x18);
        MemModRm(hint, m);
    }

    /// <summary>dec dst</summary>
    public void Dec(Gpr dst)
    {
        Rex(true, 0, (int)dst);
        _code.Add(0xFF);
        _code.Add(ModRm(3, 1, (int)dst));
    }

    /// <summary>jnz to an earlier position</summary>
    public void JnzBack(int target)
    {
        _code.Add(0x0F);
        _code.Add(0x85);
        Int32(target - (Position + 4));
    }

    /// <summary>push r (r0..r7)</summary>
    public void Push(Gpr r)
    {
        if ((int)r >= 8)
        {
            _code.Add(0x41);
        }
        _code.Add((byte)(0x50 + ((int)r & 7)));
    }

    /// <summary>pop r (r0..r7)</summary>
    public void Pop(Gpr r)
    {
        if ((int)r >= 8)
        {
            _code.Add(0x41);
        }
        _code.Add((byte)(0x58 + ((int)r & 7)));
    }

    /// <summary>vzeroupper; ret</summary>
    public void Return()
    {
        _code.AddRange([0xC5, 0xF8, 0x77, 0xC3]);
    }

    // ---- AVX-512 (512-bit, no masking) ----

    private const int P66 = 1, PF3 = 2;
    private const int M0F = 1, M0F38 = 2;

    /// <summary>vmovdqu32 zmm, [m]</summary>
    public void Load(int zmm, Mem m) => Evex(PF3, M0F, 0x6F, zmm, 0, m);

    /// <summary>vmovups [m], zmm</summary>
    public void Store(Mem m, int zmm) => Evex(0, M0F, 0x11, zmm, 0, m);

    /// <summary>vcvtph2ps zmm, [m] (16 halves)</summary>
    public void HalvesToFloats(int zmm, Mem m) => Evex(P66, M0F38, 0x13, zmm, 0, m with { Broadcast = false });

    /// <summary>vpbroadcastd zmm, dword [m]</summary>
    public void BroadcastInt(int zmm, Mem m) => Evex(P66, M0F38, 0x58, zmm, 0, m with { Broadcast = false });

    /// <summary>vpbroadcastd zmm, r32</summary>
    public void BroadcastInt(int zmm, Gpr src) => EvexReg(P66, M0F38, 0x7C, zmm, 0, (int)src, gprSource: true);

    /// <summary>vpdpbusd acc, u8, s8: per 32-bit lane, acc += four unsigned bytes of u8 times the four signed bytes of s8.</summary>
    public void DotBytes(int acc, int u8, Mem s8) => Evex(P66, M0F38, 0x50, acc, u8, s8);

    /// <summary>vpdpbusd acc, u8, s8 with the signed bytes in a register.</summary>
    public void DotBytes(int acc, int u8, int s8) => EvexReg(P66, M0F38, 0x50, acc, u8, s8);

    /// <summary>vpmovzxbd zmm, [m] (16 unsigned bytes to 16 int32)</summary>
    public void BytesToInts(int zmm, Mem m) => Evex(P66, M0F38, 0x31, zmm, 0, m with { Broadcast = false });

    /// <summary>vpmovsxbd zmm, [m] (16 signed bytes to 16 int32)</summary>
    public void SignedBytesToInts(int zmm, Mem m) => Evex(P66, M0F38, 0x21, zmm, 0, m with { Broadcast = false });

    /// <summary>vpsubb dst, a, b</summary>
    public void SubBytes(int dst, int a, int b) => EvexReg(P66, M0F, 0xF8, dst, a, b);

    /// <summary>vpord dst, a, b</summary>
    public void Or(int dst, int a, int b) => EvexReg(P66, M0F, 0xEB, dst, a, b);

    /// <summary>vpsllw dst, src, imm8</summary>
    public void ShiftLeftShorts(int dst, int src, byte count)
    {
        EvexReg(P66, M0F, 0x71, 6, dst, src);
        _code.Add(count);
    }

    /// <summary>vpdpwssd acc, a, s16: per 32-bit lane, acc += the two int16 of a times the two int16 of s16.</summary>
    public void DotShorts(int acc, int a, Mem s16) => Evex(P66, M0F38, 0x52, acc, a, s16);

    /// <summary>vpmulld dst, a, b (low 32 bits of each product)</summary>
    public void MultiplyInts(int dst, int a, int b) => EvexReg(P66, M0F38, 0x40, dst, a, b);

    /// <summary>vfmadd213ps dst, a, b: dst = a * dst + b, rounded once.</summary>
    public void FusedMultiplyAdd213(int dst, int a, int b) => EvexReg(P66, M0F38, 0xA8, dst, a, b);

    /// <summary>vpxord dst, a, b</summary>
    public void Xor(int dst, int a, int b) => EvexReg(P66, M0F, 0xEF, dst, a, b);

    /// <summary>vpandd dst, a, b</summary>
    public void And(int dst, int a, int b) => EvexReg(P66, M0F, 0xDB, dst, a, b);

    /// <summary>vpaddd dst, a, b</summary>
    public void AddInts(int dst, int a, int b) => EvexReg(P66, M0F, 0xFE, dst, a, b);

    /// <summary>vpsubd dst, a, b</summary>
    public void SubInts(int dst, int a, int b) => EvexReg(P66, M0F, 0xFA, dst, a, b);

    /// <summary>vpslld dst, src, imm8</summary>
    public void ShiftLeftInts(int dst, int src, byte count)
    {
        EvexReg(P66, M0F, 0x72, 6, dst, src);
        _code.Add(count);
    }

    /// <summary>vpsrlw dst, src, imm8</summary>
    public void ShiftRightShorts(int dst, int src, byte count)
    {
        EvexReg(P66, M0F, 0x71, 2, dst, src);
        _code.Add(count);
    }

    /// <summary>vcvtdq2ps dst, src</summary>
    public void IntsToFloats(int dst, int src) => EvexReg(0, M0F, 0x5B, dst, 0, src);

    /// <summary>vmulps dst, a, [m]</summary>
    public void Multiply(int dst, int a, Mem m) => Evex(0, M0F, 0x59, dst, a, m);

    /// <summary>vfmadd213ps dst, a, [m]: dst = a * dst + [m], rounded once.</summary>
    public void FusedMultiplyAdd213(int dst, int a, Mem m) => Evex(P66, M0F38, 0xA8, dst, a, m);

    // EVEX with a memory operand: reg field = r, vvvv = v (disp32 is never scaled, unlike EVEX's disp8 * N)
    private void Evex(int pp, int mm, byte opcode, int r, int v, Mem m)
    {
        int b = (int)m.Base;
        EvexPrefix(pp, mm, r, v, bExt: (b >> 3) & 1, xExt: 0, broadcast: m.Broadcast);
        _code.Add(opcode);
        MemModRm(r, m);
    }

    // EVEX with a register operand in r/m (zmm, or a general register when gprSource)
    private void EvexReg(int pp, int mm, byte opcode, int r, int v, int rm, bool gprSource = false)
    {
        EvexPrefix(pp, mm, r, v, bExt: (rm >> 3) & 1, xExt: gprSource ? 0 : (rm >> 4) & 1, broadcast: false);
        _code.Add(opcode);
        _code.Add(ModRm(3, r, rm));
    }

    private void EvexPrefix(int pp, int mm, int r, int v, int bExt, int xExt, bool broadcast)
    {
        int p0 = ((~r >> 3) & 1) << 7 | (xExt ^ 1) << 6 | (bExt ^ 1) << 5 | ((~r >> 4) & 1) << 4 | mm;
        int p1 = 0 << 7 | (~v & 15) << 3 | 1 << 2 | pp;
        int p2 = 2 << 5 | (broadcast ? 1 : 0) << 4 | ((~v >> 4) & 1) << 3;
        _code.AddRange([0x62, (byte)p0, (byte)p1, (byte)p2]);
    }

    private void Rex(bool w, int reg, int rm)
    {
        _code.Add((byte)(0x40 | (w ? 8 : 0) | ((reg >> 3) & 1) << 2 | ((rm >> 3) & 1)));
    }

    // mod = 10 (disp32) with the base in r/m; rsp and r12 need a SIB byte
    private void MemModRm(int reg, Mem m)
    {
        int b = (int)m.Base & 7;
        _code.Add(ModRm(2, reg, b));
        if (b == 4)
        {
            _code.Add(0x24);
        }
        Int32(m.Disp);
    }

    private static byte ModRm(int mod, int reg, int rm) => (byte)(mod << 6 | (reg & 7) << 3 | (rm & 7));

    private void Int32(int value)
    {
        _code.Add((byte)value);
        _code.Add((byte)(value >> 8));
        _code.Add((byte)(value >> 16));
        _code.Add((byte)(value >> 24));
    }
}
