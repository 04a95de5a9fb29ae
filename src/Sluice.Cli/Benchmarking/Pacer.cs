using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Sluice.Cli.Benchmarking;

/// <summary>
/// Waits until a <see cref="Stopwatch"/> timestamp with the kernel's high-resolution timer (nanosleep on Linux), for an
/// open loop that sends at exact intervals. Task.Delay wakes on the runtime's timer at 1 ms steps at best, so a loop on it
/// at 2,000 requests/s sent its requests in bunches of two to four at once, each bunch queueing in the server it measured
/// (and more so through a gateway, whose requests take longer): a cost of the load generator, not of the server.
/// </summary>
internal static partial class Pacer
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "nanosleep")]
    private static partial int Nanosleep(in Timespec request, nint remaining);

    /// <summary>Returns at <paramref name="due"/> (at once when it has passed); blocks the calling thread until then.</summary>
    public static void SleepUntil(long due)
    {
        while (Stopwatch.GetTimestamp() is var now && now < due)
        {
            long nanoseconds = (long)((due - now) * (1e9 / Stopwatch.Frequency));
            if (OperatingSystem.IsLinux())
            {
                var request = new Timespec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
                Nanosleep(in request, 0); // woken early by a signal: the loop sleeps the rest
            }
            else
            {
                Thread.Sleep(TimeSpan.FromMilliseconds(Math.Max(1, nanoseconds / 1_000_000)));
            }
        }
    }
}
