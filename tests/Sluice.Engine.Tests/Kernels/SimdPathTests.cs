using Sluice.Engine.Kernels;

namespace Sluice.Engine.Tests.Kernels;

[Trait("Category", "Kernels")]
public sealed class SimdPathTests
{
    /// <summary>The test command reruns the kernel tests with each switch; this proves the switch took effect.</summary>
    [Fact]
    public void KernelPath_FollowsRuntimeSwitches()
    {
        static bool Off(string name) => Environment.GetEnvironmentVariable(name) == "0";
        if (Off("DOTNET_EnableHWIntrinsic") || Off("DOTNET_EnableAVX2"))
        {
            Assert.False(Simd.Use512);
            Assert.False(Simd.Use256);
            Assert.Equal("scalar", Simd.Describe());
        }
        else if (Off("DOTNET_EnableAVX512"))
        {
            Assert.False(Simd.Use512);
            Assert.StartsWith("AVX2", Simd.Describe());
        }
        else
        {
            Assert.True(Simd.Use512 || !System.Runtime.Intrinsics.X86.Avx512BW.IsSupported);
        }
    }
}
