using System.Runtime.CompilerServices;

namespace Sluice.Tests.Shared;

/// <summary>
/// Turns guarded native memory on for every test assembly (and the servers they start as child
/// processes) before any engine code runs: each native buffer between inaccessible pages, freed buffers
/// inaccessible, so a kernel that reads or writes out of bounds faults where it does so. Set
/// SLUICE_GUARD_MEMORY=0 to run the tests without it.
/// </summary>
internal static class GuardedMemoryInitializer
{
    [ModuleInitializer]
    internal static void TurnOn()
    {
        if (Environment.GetEnvironmentVariable("SLUICE_GUARD_MEMORY") is null)
        {
            Environment.SetEnvironmentVariable("SLUICE_GUARD_MEMORY", "1");
        }
    }
}
