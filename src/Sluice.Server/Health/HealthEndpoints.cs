using Microsoft.AspNetCore.Http;
using Sluice.Server.Hosting;
using Sluice.Server.Routes;

namespace Sluice.Server.Health;

/// <summary>
/// GET /health (a report), /health/live and /health/ready (Kubernetes probes; /health/liveness and
/// /health/readiness are aliases). Each reads state the server keeps anyway: a probe costs no generation.
/// </summary>
internal sealed class HealthEndpoints(ServingContext serving)
{
    public Readiness.Verdict Verdict()
    {
        var host = serving.Host;
        return Readiness.Evaluate(host.State, host.Failure, host.Engine?.Stats, serving.Admission.InFlight, serving.Admission.BusySince,
            serving.Time.GetTimestamp(), serving.Time, serving.Options.StallTimeout);
    }

    public Task HealthAsync(HttpContext http)
    {
        var verdict = Verdict();
        var stats = serving.Host.Engine?.Stats;
        var now = serving.Time.GetUtcNow();
        var report = new HealthReport(
            verdict.Ready ? "healthy" : "unhealthy",
            verdict.Reason,
            serving.Host.State.ToString().ToLowerInvariant(),
            now,
            Math.Round((now - serving.Started).TotalSeconds, 3),
            serving.Host.Name,
            serving.Telemetry.RequestsServed,
            Math.Round(serving.Telemetry.ErrorRate, 6),
            stats?.Running ?? 0,
            stats?.Waiting ?? 0,
            Math.Round(stats?.KvUsage ?? 0, 6));
        return Json.WriteAsync(http, report, HealthJson.Default.HealthReport, verdict.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>Alive unless the model failed to load for good (a restart is the remedy then).</summary>
    public Task LiveAsync(HttpContext http)
    {
        bool failed = serving.Host.State == ServerState.Failed;
        return Json.WriteAsync(http, new ProbeReport(failed ? "dead" : "alive", failed ? serving.Host.Failure : null), HealthJson.Default.ProbeReport,
            failed ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK);
    }

    public Task ReadyAsync(HttpContext http)
    {
        var verdict = Verdict();
        return Json.WriteAsync(http, new ProbeReport(verdict.Ready ? "ready" : "not ready", verdict.Reason), HealthJson.Default.ProbeReport,
            verdict.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }
}
