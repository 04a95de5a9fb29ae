namespace Sluice.Cli;

/// <summary>
/// Runtime settings for `sluice gateway` (and `sluice bench gateway`, which shares the machine with it and runs the load
/// generator and the fake backend), applied on the first line of Main, before the thread pool and the sockets start:
/// <list type="bullet">
/// <item>The thread pool's spin-wait off: a worker that runs out of work spins for a while before it sleeps, which pays
/// off when work comes in bursts on idle cores but, for a proxy whose every request wakes several workers briefly, burns
/// more CPU than the request itself (measured: 0.24 ms of gateway CPU per request at 500 requests/s with the default
/// spin, 0.15 ms without). Unless DOTNET_ThreadPool_UnfairSemaphoreSpinLimit or the runtimeconfig setting says otherwise.</item>
/// <item>Socket completions inline on the sockets' epoll threads (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1, one
/// epoll thread a core): a request's continuations (Kestrel reading it, the forwarder's answer from the backend) run where
/// the readiness was seen instead of being queued to a pool worker that must be woken, a hop each way. Unless the
/// variable is set already (0 turns it off). The runtime reads it once, when the first socket starts.</item>
/// </list>
/// The engine (`sluice serve`), whose parallel kernels wake workers back to back, keeps the runtime's defaults.
/// </summary>
internal static class ThreadPoolTuning
{
    public const string Setting = "System.Threading.ThreadPool.UnfairSemaphoreSpinLimit";
    public const string Variable = "DOTNET_ThreadPool_UnfairSemaphoreSpinLimit";
    public const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Must run before the thread pool's first work item and the first socket (the first line of Main).</summary>
    public static void Apply(IReadOnlyList<string> args)
    {
        bool proxy = args is ["gateway", ..] or ["bench", "gateway", ..];
        if (!proxy)
        {
            return;
        }
        if (AppContext.GetData(Setting) is null && Environment.GetEnvironmentVariable(Variable) is null)
        {
            AppContext.SetData(Setting, 0);
        }
        if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletions, "1");
        }
    }

    /// <summary>Whether this process's socket completions run inline (the variable as the runtime reads it).</summary>
    public static bool InlineIo => Environment.GetEnvironmentVariable(InlineCompletions) == "1";
}
