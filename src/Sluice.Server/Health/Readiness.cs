using System.Globalization;
using Sluice.Engine.Serving;
using Sluice.Server.Hosting;

namespace Sluice.Server.Health;

/// <summary>
/// Whether this replica should get traffic, decided from state the server already has: no generation
/// per probe. Not ready while loading, warming up, draining or failed, and when the engine is stalled:
/// work is pending but no engine step finished within --stall-timeout (counted from when the work arrived,
/// if the engine was idle before).
/// </summary>
public static class Readiness
{
    public readonly record struct Verdict(bool Ready, string? Reason);

    public static Verdict Evaluate(ServerState state, string? failure, EngineStats? stats, int inFlight, long busySince, long now, TimeProvider time, TimeSpan stallTimeout)
    {
        switch (state)
        {
            case ServerState.Failed:
                return new(false, $"model failed to load: {failure}");
            case ServerState.Ready:
                break;
            default:
                return new(false, state.ToString().ToLowerInvariant());
        }
        if (stats is null)
        {
            return new(false, "no engine");
        }
        int pending = Math.Max(inFlight, stats.Running + stats.Waiting);
        if (pending == 0)
        {
            return new(true, null);
        }
        long progress = Math.Max(stats.LastStepFinished, busySince);
        if (progress == 0)
        {
            return new(true, null);
        }
        var quiet = time.GetElapsedTime(progress, now);
        return quiet > stallTimeout
            ? new(false, string.Create(CultureInfo.InvariantCulture,
                $"engine stalled: {pending} sequences pending and no step finished for {quiet.TotalSeconds:F0} s (--stall-timeout {stallTimeout.TotalSeconds:F0} s)"))
            : new(true, null);
    }
}
