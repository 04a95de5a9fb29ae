namespace Sluice.Cli;

/// <summary>
/// The thread pool's spin-wait for `sluice gateway` (and `sluice bench gateway`, which shares the machine with it): a
/// worker that runs out of work spins for a while before it sleeps, which pays off when work comes in bursts on idle
/// cores but, for a proxy whose every request wakes several workers briefly, burns more CPU than the request itself
/// (measured: 0.24 ms of gateway CPU per request at 500 requests/s with the default spin, 0.15 ms without). Off for
/// these commands unless DOTNET_ThreadPool_UnfairSemaphoreSpinLimit or the runtimeconfig setting says otherwise; the
/// engine (`sluice serve`), whose parallel kernels wake workers back to back, keeps the runtime's default.
/// </summary>
internal static class ThreadPoolTuning
{
    public const string Setting = "System.Threading.ThreadPool.UnfairSemaphoreSpinLimit";
    public const string Variable = "DOTNET_ThreadPool_UnfairSemaphoreSpinLimit";

    /// <summary>Must run before the thread pool's first work item (the first line of Main): the pool reads it once.</summary>
    public static void Apply(IReadOnlyList<string> args)
    {
        bool proxy = args is ["gateway", ..] or ["bench", "gateway", ..];
        if (proxy && AppContext.GetData(Setting) is null && Environment.GetEnvironmentVariable(Variable) is null)
        {
            AppContext.SetData(Setting, 0);
        }
    }
}
