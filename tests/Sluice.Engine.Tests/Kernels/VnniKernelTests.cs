using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Sluice.Engine.Kernels;
using Sluice.Engine.Kernels.Native;

namespace Sluice.Engine.Tests.Kernels;

/// <summary>
/// The generated VNNI kernels: every instruction form the assembler writes has the bytes GNU as 2.40 writes for
/// it (assembled with {disp32}, as the assembler always uses 32-bit displacements), and the kernels are in use
/// wherever the CPU has AVX512_VNNI, so the integer matmul tests (<see cref="IntegerDotTests"/>) check them
/// against the one-row recipe (test.sh runs those tests again with SLUICE_VNNI=0 for the C# kernels).
/// </summary>
[Trait("Category", "Kernels")]
public sealed class VnniKernelTests
{
    public static TheoryData<string, string> Encodings() => new()
    {
        { "mov r8, [rdi+0x10]", "4c8b8710000000" },
        { "mov rax, [r12+0x40]", "498b842440000000" },
        { "mov rdx, r9", "4c89ca" },
        { "mov r13d, 0x0f0f0f0f", "41bd0f0f0f0f" },
        { "add r10, 0x220", "4981c220020000" },
        { "add rax, [rdi+0x38]", "48038738000000" },
        { "dec rcx", "48ffc9" },
        { "prefetcht0 [r8+0x880]", "410f188880080000" },
        { "prefetcht1 [r8+0x4000]", "410f189000400000" },
        { "vmovdqu32 zmm17, [r8+0x20]", "62c17e486f8820000000" },
        { "vmovups [rax+0x40], zmm25", "62617c48118840000000" },
        { "vcvtph2ps zmm16, [r8]", "62c27d48138000000000" },
        { "vpbroadcastd zmm10, [r11]", "62527d48589300000000" },
        { "vpbroadcastd zmm31, eax", "62627d487cf8" },
        { "vpbroadcastd zmm3, r9d", "62d27d487cd9" },
        { "vpdpbusd zmm9, zmm7, [r10+0x1c]{1to16}", "62524558508a1c000000" },
        { "vpdpbusd zmm24, zmm18, [rsp+0x100]", "62626d4050842400010000" },
        { "vpxord zmm8, zmm8, zmm8", "62513d48efc0" },
        { "vpandd zmm4, zmm20, zmm31", "62915d40dbe7" },
        { "vpaddd zmm8, zmm8, zmm9", "62513d48fec1" },
        { "vpsubd zmm28, zmm19, zmm10", "62416540fae2" },
        { "vpslld zmm10, zmm26, 7", "62912d4872f207" },
        { "vpsrlw zmm20, zmm20, 4", "62b15d4071d404" },
        { "vcvtdq2ps zmm8, zmm30", "62117c485bc6" },
        { "vmulps zmm11, zmm16, [rsi]{1to16}", "62717c50599e00000000" },
        { "vfmadd213ps zmm8, zmm11, [rax]", "62722548a88000000000" },
        { "vzeroupper; ret", "c5f877c3" },
        { "push rbx", "53" },
        { "vpdpbusd zmm5, zmm13, zmm3", "62f2154850eb" },
        { "vpmovsxbd zmm16, [r8+0x60]", "62c27d48218060000000" },
        { "vpsubb zmm3, zmm3, zmm13", "62d16548f8dd" },
        { "vpsllw zmm5, zmm2, 4", "62f1554871f204" },
        { "vpord zmm4, zmm4, zmm5", "62f15d48ebe5" },
        { "vpdpbusd zmm8, zmm1, [rbx+0x40]", "62727548508340000000" },
        { "pop rbx", "5b" },
        { "vpmovzxbd zmm22, [r8+0x140]", "62c27d4831b040010000" },
        { "vpmulld zmm8, zmm8, zmm29", "62123d4840c5" },
        { "vpdpwssd zmm11, zmm18, [r11+0xc]{1to16}", "62526d50529b0c000000" },
        { "vfmadd213ps zmm11, zmm12, zmm10", "62521d48a8da" },
    };

    [Theory]
    [MemberData(nameof(Encodings))]
    public void Assembler_WritesTheBytesGnuAsWrites(string instruction, string expected)
    {
        var a = new X64Assembler();
        switch (instruction)
        {
            case "mov r8, [rdi+0x10]": a.MovLoad(Gpr.R8, new Mem(Gpr.Rdi, 0x10)); break;
            case "mov rax, [r12+0x40]": a.MovLoad(Gpr.Rax, new Mem(Gpr.R12, 0x40)); break;
            case "mov rdx, r9": a.Mov(Gpr.Rdx, Gpr.R9); break;
            case "mov r13d, 0x0f0f0f0f": a.MovImm32(Gpr.R13, 0x0F0F0F0F); break;
            case "add r10, 0x220": a.AddImm(Gpr.R10, 0x220); break;
            case "add rax, [rdi+0x38]": a.AddLoad(Gpr.Rax, new Mem(Gpr.Rdi, 0x38)); break;
            case "dec rcx": a.Dec(Gpr.Rcx); break;
            case "prefetcht0 [r8+0x880]": a.Prefetch(new Mem(Gpr.R8, 0x880)); break;
            case "prefetcht1 [r8+0x4000]": a.PrefetchL2(new Mem(Gpr.R8, 0x4000)); break;
            case "vmovdqu32 zmm17, [r8+0x20]": a.Load(17, new Mem(Gpr.R8, 0x20)); break;
            case "vmovups [rax+0x40], zmm25": a.Store(new Mem(Gpr.Rax, 0x40), 25); break;
            case "vcvtph2ps zmm16, [r8]": a.HalvesToFloats(16, new Mem(Gpr.R8)); break;
            case "vpbroadcastd zmm10, [r11]": a.BroadcastInt(10, new Mem(Gpr.R11)); break;
            case "vpbroadcastd zmm31, eax": a.BroadcastInt(31, Gpr.Rax); break;
            case "vpbroadcastd zmm3, r9d": a.BroadcastInt(3, Gpr.R9); break;
            case "vpdpbusd zmm9, zmm7, [r10+0x1c]{1to16}": a.DotBytes(9, 7, new Mem(Gpr.R10, 0x1c).Bcst); break;
            case "vpdpbusd zmm24, zmm18, [rsp+0x100]": a.DotBytes(24, 18, new Mem(Gpr.Rsp, 0x100)); break;
            case "vpxord zmm8, zmm8, zmm8": a.Xor(8, 8, 8); break;
            case "vpandd zmm4, zmm20, zmm31": a.And(4, 20, 31); break;
            case "vpaddd zmm8, zmm8, zmm9": a.AddInts(8, 8, 9); break;
            case "vpsubd zmm28, zmm19, zmm10": a.SubInts(28, 19, 10); break;
            case "vpslld zmm10, zmm26, 7": a.ShiftLeftInts(10, 26, 7); break;
            case "vpsrlw zmm20, zmm20, 4": a.ShiftRightShorts(20, 20, 4); break;
            case "vcvtdq2ps zmm8, zmm30": a.IntsToFloats(8, 30); break;
            case "vmulps zmm11, zmm16, [rsi]{1to16}": a.Multiply(11, 16, new Mem(Gpr.Rsi).Bcst); break;
            case "vfmadd213ps zmm8, zmm11, [rax]": a.FusedMultiplyAdd213(8, 11, new Mem(Gpr.Rax)); break;
            case "vzeroupper; ret": a.Return(); break;
            case "push rbx": a.Push(Gpr.Rbx); break;
            case "vpdpbusd zmm5, zmm13, zmm3": a.DotBytes(5, 13, 3); break;
            case "vpmovsxbd zmm16, [r8+0x60]": a.SignedBytesToInts(16, new Mem(Gpr.R8, 0x60)); break;
            case "vpsubb zmm3, zmm3, zmm13": a.SubBytes(3, 3, 13); break;
            case "vpsllw zmm5, zmm2, 4": a.ShiftLeftShorts(5, 2, 4); break;
            case "vpord zmm4, zmm4, zmm5": a.Or(4, 4, 5); break;
            case "vpdpbusd zmm8, zmm1, [rbx+0x40]": a.DotBytes(8, 1, new Mem(Gpr.Rbx, 0x40)); break;
            case "pop rbx": a.Pop(Gpr.Rbx); break;
            case "vpmovzxbd zmm22, [r8+0x140]": a.BytesToInts(22, new Mem(Gpr.R8, 0x140)); break;
            case "vpmulld zmm8, zmm8, zmm29": a.MultiplyInts(8, 8, 29); break;
            case "vpdpwssd zmm11, zmm18, [r11+0xc]{1to16}": a.DotShorts(11, 18, new Mem(Gpr.R11, 0xc).Bcst); break;
            case "vfmadd213ps zmm11, zmm12, zmm10": a.FusedMultiplyAdd213(11, 12, 10); break;
            default: throw new ArgumentException(instruction);
        }
        Assert.Equal(expected, Convert.ToHexStringLower(a.ToArray()));
    }

    /// <summary>
    /// The generated code reads the argument block through rdi with 64-bit loads at the offsets the layout gives
    /// (<see cref="VnniKernels.Arg"/>): every field is 8 bytes, the fields tile the struct with no gap or overlap, and a
    /// value stored in a field is the 8 bytes at the offset the code reads, whatever the order of the fields.
    /// </summary>
    [Fact]
    public unsafe void Args_EveryFieldIsEightBytesAtTheOffsetTheCodeReads()
    {
        var fields = typeof(VnniKernels.Args).GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        Assert.Equal(12, fields.Length);
        var offsets = new List<int>();
        for (int i = 0; i < fields.Length; i++)
        {
            var field = fields[i];
            Assert.True(field.FieldType.IsPointer || field.FieldType == typeof(long), $"{field.Name} is a {field.FieldType.Name}, not 8 bytes");
            var mem = VnniKernels.Arg(field.Name);
            Assert.Equal(new Mem(Gpr.Rdi, mem.Disp), mem);
            long marker = 0x0102030405060700 + i + 1;
            object boxed = default(VnniKernels.Args);
            field.SetValue(boxed, field.FieldType.IsPointer ? Pointer.Box((void*)marker, field.FieldType) : marker);
            var args = (VnniKernels.Args)boxed;
            byte* p = (byte*)&args;
            for (int at = 0; at < sizeof(VnniKernels.Args); at += 8)
            {
                Assert.Equal(at == mem.Disp ? marker : 0, *(long*)(p + at));
            }
            offsets.Add(mem.Disp);
        }
        Assert.Equal(8 * fields.Length, sizeof(VnniKernels.Args));
        Assert.Equal(Marshal.SizeOf<VnniKernels.Args>(), sizeof(VnniKernels.Args));
        Assert.Equal(Enumerable.Range(0, fields.Length).Select(i => 8 * i), offsets.Order());
    }

    [Fact]
    public unsafe void Kernels_AreInUse_WhereTheCpuHasAvx512Vnni()
    {
        bool cpu = OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64 && Simd.Use512
            && X86Base.IsSupported && (X86Base.CpuId(7, 0).Ecx & (1 << 11)) != 0;
        bool off = Environment.GetEnvironmentVariable("SLUICE_VNNI") == "0";
        Assert.Equal(cpu, VnniKernels.CpuSupported);
        // a system that refuses executable pages keeps the C# kernels (one page of a lone ret, to find out)
        bool executable = cpu && ExecutableMemory.Install([0xC3]) != null;
        Assert.Equal(cpu && !off && executable, VnniKernels.Available);
    }
}
