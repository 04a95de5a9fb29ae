using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sluice.Engine.Kernels;

/// <summary>
/// Which instruction-set path the kernels take, decided once at startup. Tests force the narrower
/// paths with DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0 or DOTNET_EnableHWIntrinsic=0.
/// </summary>
public static class Simd
{
    /// <summary>AVX-512 F+BW: 512-bit kernels.</summary>
    public static readonly bool Use512 = Avx512BW.IsSupported && Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>AVX2+FMA: 256-bit kernels.</summary>
    public static readonly bool Use256 = Avx2.IsSupported && Fma.IsSupported;

    /// <summary>256-bit VNNI (vpdpbusd) for int8 dot products where the CPU has it.</summary>
    public static readonly bool UseVnni = AvxVnni.IsSupported;

    /// <summary>
    /// The instruction-set path the kernels take, as a short label for logs, metrics and /version:
    /// avx512-vnni (generated VNNI kernels), avx512, avx2 or scalar.
    /// </summary>
    public static string Path => Use512 ? (Native.VnniKernels.Available ? "avx512-vnni" : "avx512") : Use256 ? "avx2" : "scalar";

    public static string Describe() =>
        Use512 ? "AVX-512" + (Native.VnniKernels.Available ? " + AVX512-VNNI (generated code)" : "") + (UseVnni ? " + AVX-VNNI" : "")
        : Use256 ? "AVX2" + (UseVnni ? " + AVX-VNNI" : "") : "scalar";

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fma512(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Avx512F.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fma256(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Fma.MultiplyAdd(a, b, c);

    /// <summary>Sum of 16 int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int HorizontalSum(Vector512<int> v) => Vector512.Sum(v);

    /// <summary>
    /// u8 x s8 products summed in groups of four into int32 lanes (vpmaddubsw then vpmaddwd by ones):
    /// the operation VNNI's vpdpbusd does in one instruction, which .NET 10 has only for 256 bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> DotU8S8(Vector512<byte> u, Vector512<sbyte> s) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, s), Vector512<short>.One);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotU8S8(Vector256<byte> u, Vector256<sbyte> s) =>
        UseVnni ? AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, s)
                : Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256<short>.One);
}
