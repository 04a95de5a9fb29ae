using System.Globalization;

namespace Sluice.Engine.Tests.Memory;

/// <summary>Reads this process's memory map (/proc/self/maps) to see how the system protects an address.</summary>
internal static unsafe class ProcessMaps
{
    /// <summary>"rw", "r-", "--"... for the mapping holding <paramref name="p"/>; null when none does.</summary>
    public static string? Protection(void* p)
    {
        ulong a = (ulong)p;
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            ulong start = ulong.Parse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            ulong end = ulong.Parse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (a >= start && a < end)
            {
                return line.Substring(space + 1, 2);
            }
        }
        return null;
    }
}
