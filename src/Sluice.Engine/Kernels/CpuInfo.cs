using System.Runtime.InteropServices;

namespace Sluice.Engine.Kernels;

/// <summary>The processor this process runs on, as operators compare machines by it (read once).</summary>
public static class CpuInfo
{
    /// <summary>The CPU's model name (Linux /proc/cpuinfo), else the architecture.</summary>
    public static string Model { get; } = Read();

    private static string Read()
    {
        try
        {
            if (OperatingSystem.IsLinux() && File.Exists("/proc/cpuinfo"))
            {
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is int colon and > 0)
                    {
                        return line[(colon + 1)..].Trim();
                    }
                }
            }
        }
        catch (IOException)
        {
            // unreadable: fall back to the architecture
        }
        catch (UnauthorizedAccessException)
        {
        }
        return $"unknown {RuntimeInformation.ProcessArchitecture}".ToLowerInvariant();
    }
}
