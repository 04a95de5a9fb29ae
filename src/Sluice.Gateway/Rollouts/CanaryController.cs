using System.Globalization;
using Microsoft.Extensions.Logging;
using Sluice.Gateway.Configuration;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Routing;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Rollouts;

/// <summary>Where a model's canary analysis is.</summary>
public enum CanaryState
{
    /// <summary>Configured with start: manual and not started, or its version is already the stable one.</summary>
    Idle,
    Progressing,
    Promoted,
    RolledBack,
    Aborted,
}

/// <summary>One gate's verdict at the end of an interval: pass, fail, inconclusive (too few requests: the step holds) or no_data.</summary>
public sealed record GateEvaluation(DateTimeOffset Time, int Step, string Gate, string Result, string Reason);

/// <summary>A model's analysis as the admin API shows it.</summary>
public sealed record CanarySnapshot(string Model, string Version, string? Stable, CanaryState State, int Step, IReadOnlyList<int> Steps, int Weight,
    int FailedChecks, int FailureLimit, string? Reason, DateTimeOffset? StepStarted, IReadOnlyList<GateEvaluation> Evaluations);

/// <summary>
/// Automatic canary analysis (Argo Rollouts' and Flagger's semantics) for the models whose configuration has a
/// <c>canary</c>: the canary gets <see cref="CanarySettings.Steps"/>[0] percent, and at the end of every interval its
/// attempts are judged against the stable version's in the same interval (<see cref="Evaluate"/>). All gates passing
/// advances a step (the last, 100, promotes: the canary becomes the stable version); a failing gate counts a failed check,
/// and more failed checks than failure_limit send the canary's traffic to 0 at once (rolled back), with the reasons in the
/// log, the metrics and the admin API. A change of the traffic made elsewhere (the admin API, the file) aborts the
/// analysis. Timers come from the <see cref="TimeProvider"/>, so the state machine runs on fake time in tests.
/// </summary>
public sealed partial class CanaryController : IDisposable
{
    /// <summary>Gate evaluations kept per model for the admin API.</summary>
    public const int EvaluationsKept = 40;

    public const string Actor = "canary-analysis";

    private readonly Router _router;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stopping = new();
    private Dictionary<string, Analysis> _analyses = new(StringComparer.Ordinal);

    public CanaryController(Router router, GatewayMetrics metrics, TimeProvider time, ILogger<CanaryController> log)
    {
        _router = router;
        _metrics = metrics;
        _time = time;
        _log = log;
        metrics.CanaryStatus = Status;
        router.Applied += Sync;
    }

    /// <summary>The analysis of <paramref name="model"/>; 404 when the model has none configured.</summary>
    public CanarySnapshot Get(string model)
    {
        lock (_lock)
        {
            return View(Find(model));
        }
    }

    /// <summary>Starts (or starts again from the first step) the analysis: the canary gets the first step's traffic.</summary>
    public CanarySnapshot Start(string model, string actor)
    {
        lock (_router.ChangeLock)
        {
            lock (_lock)
            {
                var a = Find(model);
                if (a.State == CanaryState.Progressing)
                {
                    throw Conflict($"the canary analysis of '{model}' is already progressing (step {a.Step + 1} of {a.Settings.Steps.Count})");
                }
                Begin(a, 0, actor, "started");
                return View(a);
            }
        }
    }

    /// <summary>Stops a progressing analysis and sends all traffic back to the stable version.</summary>
    public CanarySnapshot Abort(string model, string actor)
    {
        lock (_router.ChangeLock)
        {
            lock (_lock)
            {
                var a = Find(model);
                if (a.State != CanaryState.Progressing)
                {
                    throw Conflict($"the canary analysis of '{model}' is not progressing (it is {Name(a.State)})");
                }
                End(a, CanaryState.Aborted, $"aborted by {actor}", actor);
                return View(a);
            }
        }
    }

    /// <summary>Continues a rolled-back or aborted analysis at the step it had reached, its failed checks cleared.</summary>
    public CanarySnapshot Resume(string model, string actor)
    {
        lock (_router.ChangeLock)
        {
            lock (_lock)
            {
                var a = Find(model);
                if (a.State is not (CanaryState.RolledBack or CanaryState.Aborted))
                {
                    throw Conflict($"only a rolled-back or aborted canary analysis can be resumed; that of '{model}' is {Name(a.State)}");
                }
                Begin(a, a.Step, actor, "resumed");
                return View(a);
            }
        }
    }

    /// <summary>
    /// The gates for one interval. error_rate: the canary needs min_requests attempts (else inconclusive) and may fail at
    /// most max_error_rate_increase more of them than the stable version (whose rate counts from min_requests attempts
    /// on, else 0). ttft_p95 and itl_p95: the canary's p95 may be at most ratio × the stable one's + slack; no_data when
    /// either side had no streams.
    /// </summary>
    public static IReadOnlyList<(string Gate, string Result, string Reason)> Evaluate(CanarySettings settings, WindowStats stable, WindowStats canary)
    {
        var results = new List<(string, string, string)>();
        double baseline = stable.Attempts >= settings.MinRequests ? stable.ErrorRate : 0;
        if (canary.Attempts < settings.MinRequests)
        {
            results.Add(("error_rate", "inconclusive", $"the canary had {canary.Attempts} attempts in the interval, fewer than min_requests ({settings.MinRequests})"));
        }
        else
        {
            bool ok = canary.ErrorRate - baseline <= settings.MaxErrorRateIncrease + 1e-12;
            results.Add(("error_rate", ok ? "pass" : "fail", string.Create(CultureInfo.InvariantCulture,
                $"error rate {canary.ErrorRate * 100:0.##}% ({canary.Errors} of {canary.Attempts}) vs stable {baseline * 100:0.##}% (limit +{settings.MaxErrorRateIncrease * 100:0.##} points)")));
        }
        results.Add(Latency("ttft_p95", "p95 time to first token", stable.Ttft, canary.Ttft, settings.MaxTtftRatio, settings.LatencySlack));
        results.Add(Latency("itl_p95", "p95 inter-token latency", stable.Itl, canary.Itl, settings.MaxItlRatio, settings.LatencySlack));
        return results;
    }

    private static (string, string, string) Latency(string gate, string what, IReadOnlyList<double> stable, IReadOnlyList<double> canary, double ratio, TimeSpan slack)
    {
        if (WindowStats.Percentile(canary, 0.95) is not { } c)
        {
            return (gate, "no_data", "the canary had no streams in the interval");
        }
        if (WindowStats.Percentile(stable, 0.95) is not { } s)
        {
            return (gate, "no_data", "the stable version had no streams in the interval to compare with");
        }
        double limit = s * ratio + slack.TotalSeconds;
        return (gate, c <= limit ? "pass" : "fail", string.Create(CultureInfo.InvariantCulture,
            $"{what} {c * 1000:0.#} ms vs stable {s * 1000:0.#} ms (limit {ratio:0.##}x + {slack.TotalMilliseconds:0.#} ms = {limit * 1000:0.#} ms)"));
    }

    /// <summary>Follows a configuration just put in service (under the router's change lock): new or changed canary
    /// settings start a new analysis (at once with start: auto); unchanged ones keep theirs; removed ones stop.</summary>
    private void Sync(GatewayConfig config)
    {
        lock (_lock)
        {
            var next = new Dictionary<string, Analysis>(StringComparer.Ordinal);
            foreach (var model in config.Models)
            {
                if (model.Canary is not { } settings)
                {
                    continue;
                }
                string key = Fingerprint(settings);
                if (_analyses.TryGetValue(model.Name, out var current) && current.Key == key)
                {
                    next[model.Name] = current;
                    continue;
                }
                current?.Stop();
                var a = new Analysis(model.Name, settings, key);
                next[model.Name] = a;
                if (settings.AutoStart && _router.SplitOf(model.Name).Stable != settings.Version)
                {
                    Begin(a, 0, Actor, "started (start: auto)");
                }
            }
            foreach (var (name, removed) in _analyses)
            {
                if (!next.ContainsKey(name))
                {
                    removed.Stop();
                    _metrics.Samples.Unwatch(name);
                }
            }
            _analyses = next;
        }
    }

    private void Begin(Analysis a, int step, string actor, string how)
    {
        var split = _router.SplitOf(a.Model);
        if (split.Stable == a.Settings.Version)
        {
            throw Conflict($"'{a.Settings.Version}' is already the stable version of '{a.Model}': nothing to analyse");
        }
        a.Stop();
        a.Stable = split.Stable;
        a.Step = step;
        a.Failures = 0;
        a.Reason = null;
        a.State = CanaryState.Progressing;
        a.Generation++;
        SetWeight(a, a.Settings.Steps[step], actor, $"canary {a.Settings.Version} {how}: step {step + 1} of {a.Settings.Steps.Count}", "");
        _metrics.Samples.Watch(a.Model);
        _metrics.Samples.Take(a.Model, a.Stable);
        _metrics.Samples.Take(a.Model, a.Settings.Version);
        LogStep(_log, a.Model, a.Settings.Version, how, step + 1, a.Settings.Steps.Count, a.Settings.Steps[step]);
        long generation = a.Generation;
        a.Timer = _time.CreateTimer(_ => _ = TickAsync(a, generation), null, a.Settings.Interval, a.Settings.Interval);
    }

    /// <summary>The end of an interval: judge it and act.</summary>
    private async Task TickAsync(Analysis a, long generation)
    {
        if (Interlocked.Exchange(ref a.Ticking, 1) == 1)
        {
            return; // the last interval's golden command still runs: this one is skipped
        }
        try
        {
            WindowStats stable, canary;
            lock (_router.ChangeLock)
            {
                lock (_lock)
                {
                    if (a.Generation != generation || a.State != CanaryState.Progressing)
                    {
                        return;
                    }
                    var split = _router.SplitOf(a.Model);
                    int expected = a.Settings.Steps[a.Step];
                    if (split.Stable != a.Stable || split.Percent.GetValueOrDefault(a.Settings.Version) != expected)
                    {
                        // someone else changed the traffic (the admin API, the file): the analysis yields to them
                        a.State = CanaryState.Aborted;
                        a.Reason = $"the traffic was changed outside the analysis (the canary has {split.Percent.GetValueOrDefault(a.Settings.Version)}%, the step {expected}%)";
                        a.Stop();
                        _metrics.Samples.Unwatch(a.Model);
                        LogAborted(_log, a.Model, a.Settings.Version, a.Reason);
                        return;
                    }
                    stable = _metrics.Samples.Take(a.Model, a.Stable!);
                    canary = _metrics.Samples.Take(a.Model, a.Settings.Version);
                }
            }
            var results = Evaluate(a.Settings, stable, canary).ToList();
            if (a.Settings.GoldenCommand is { } command && CanaryUrl(a) is { } target)
            {
                var (passed, reason) = await GoldenCheck.RunAsync(command, target.Url, target.Model, a.Settings.GoldenTimeout, _stopping.Token);
                results.Add(("golden", passed ? "pass" : "fail", reason));
            }
            lock (_router.ChangeLock)
            {
                lock (_lock)
                {
                    if (a.Generation == generation && a.State == CanaryState.Progressing)
                    {
                        Decide(a, results);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogTickFailed(_log, a.Model, ex);
        }
        finally
        {
            Volatile.Write(ref a.Ticking, 0);
        }
    }

    private void Decide(Analysis a, List<(string Gate, string Result, string Reason)> results)
    {
        var now = _time.GetUtcNow();
        foreach (var (gate, result, reason) in results)
        {
            a.Add(new GateEvaluation(now, a.Step + 1, gate, result, reason));
            _metrics.CanaryGates.Increment(a.Model, gate, result);
        }
        var failed = results.Where(r => r.Result == "fail").ToList();
        if (failed.Count > 0)
        {
            a.Failures++;
            string why = string.Join("; ", failed.Select(f => $"{f.Gate}: {f.Reason}"));
            LogGateFailed(_log, a.Model, a.Settings.Version, a.Step + 1, a.Failures, a.Settings.FailureLimit, why);
            if (a.Failures > a.Settings.FailureLimit)
            {
                End(a, CanaryState.RolledBack, why, Actor);
            }
            return;
        }
        if (results.Any(r => r.Result == "inconclusive"))
        {
            return; // too few requests to judge: the step holds
        }
        int next = a.Step + 1;
        if (a.Settings.Steps[next] == 100)
        {
            a.Stop();
            a.Step = next;
            a.State = CanaryState.Promoted;
            a.Reason = $"passed {next} steps";
            _router.Promote(a.Model, a.Settings.Version, Actor, "canary", a.Reason);
            _metrics.Samples.Unwatch(a.Model);
            LogPromoted(_log, a.Model, a.Settings.Version, next);
            return;
        }
        a.Step = next;
        a.Failures = 0;
        SetWeight(a, a.Settings.Steps[next], Actor, $"canary {a.Settings.Version} step {next + 1} of {a.Settings.Steps.Count}", "the gates passed");
        LogStep(_log, a.Model, a.Settings.Version, "advanced", next + 1, a.Settings.Steps.Count, a.Settings.Steps[next]);
    }

    /// <summary>All traffic back to the stable version: rolled back (gates) or aborted (by hand).</summary>
    private void End(Analysis a, CanaryState state, string reason, string actor)
    {
        a.Stop();
        a.State = state;
        a.Reason = reason;
        _metrics.Samples.Unwatch(a.Model);
        SetWeight(a, 0, actor, state == CanaryState.RolledBack ? $"canary {a.Settings.Version} rolled back" : $"canary {a.Settings.Version} aborted", reason);
        if (state == CanaryState.RolledBack)
        {
            LogRolledBack(_log, a.Model, a.Settings.Version, reason);
        }
        else
        {
            LogAborted(_log, a.Model, a.Settings.Version, reason);
        }
    }

    /// <summary>The canary gets <paramref name="weight"/> percent, the stable version the rest, any other version 0.</summary>
    private void SetWeight(Analysis a, int weight, string actor, string action, string detail)
    {
        var split = _router.SplitOf(a.Model);
        var percent = split.Percent.Keys.ToDictionary(v => v, v => v == a.Settings.Version ? weight : v == a.Stable ? 100 - weight : 0, StringComparer.Ordinal);
        _router.SetTraffic(a.Model, percent, actor, "canary", action, detail);
        a.StepStarted = _time.GetUtcNow();
    }

    private (Uri Url, string Model)? CanaryUrl(Analysis a) =>
        _router.Snapshot.Models.TryGetValue(a.Model, out var route) && route.Versions.TryGetValue(a.Settings.Version, out var pool) && pool.Deployments.Count > 0
            ? (pool.Deployments[0].Config.Url, pool.Deployments[0].Config.BackendModel) : null;

    private Analysis Find(string model) => _analyses.TryGetValue(model, out var a) ? a
        : throw new ApiException(404, $"Model '{model}' has no canary analysis configured (a 'canary' section in the gateway file).",
            "invalid_request_error", "canary_not_found", null);

    private CanarySnapshot View(Analysis a) => new(a.Model, a.Settings.Version, a.Stable, a.State, a.Step + 1, a.Settings.Steps,
        _router.Splits.TryGetValue(a.Model, out var split) ? split.Percent.GetValueOrDefault(a.Settings.Version) : 0,
        a.Failures, a.Settings.FailureLimit, a.Reason, a.StepStarted, a.Evaluations());

    private IEnumerable<(string, string, CanaryState, int)> Status()
    {
        lock (_lock)
        {
            return [.. _analyses.Values.Select(a => (a.Model, a.Settings.Version, a.State,
                _router.Splits.TryGetValue(a.Model, out var split) ? split.Percent.GetValueOrDefault(a.Settings.Version) : 0))];
        }
    }

    public static string Name(CanaryState state) => state switch
    {
        CanaryState.Idle => "idle",
        CanaryState.Progressing => "progressing",
        CanaryState.Promoted => "promoted",
        CanaryState.RolledBack => "rolled_back",
        _ => "aborted",
    };

    private static ApiException Conflict(string message) => new(409, message, "invalid_request_error", "canary_state", null);

    private static string Fingerprint(CanarySettings s) => string.Join("|", s.Version, string.Join(",", s.Steps), s.Interval.Ticks, s.FailureLimit, s.MinRequests,
        s.MaxErrorRateIncrease.ToString("R", CultureInfo.InvariantCulture), s.MaxTtftRatio.ToString("R", CultureInfo.InvariantCulture),
        s.MaxItlRatio.ToString("R", CultureInfo.InvariantCulture), s.LatencySlack.Ticks, s.GoldenCommand, s.GoldenTimeout.Ticks, s.AutoStart);

    public void Dispose()
    {
        _router.Applied -= Sync;
        _stopping.Cancel();
        lock (_lock)
        {
            foreach (var a in _analyses.Values)
            {
                a.Stop();
            }
        }
        _stopping.Dispose();
    }

    private sealed class Analysis(string model, CanarySettings settings, string key)
    {
        private readonly Queue<GateEvaluation> _evaluations = new();

        public string Model { get; } = model;
        public CanarySettings Settings { get; } = settings;
        public string Key { get; } = key;
        public CanaryState State { get; set; }
        public string? Stable { get; set; }
        public int Step { get; set; }
        public int Failures { get; set; }
        public string? Reason { get; set; }
        public DateTimeOffset? StepStarted { get; set; }
        public long Generation { get; set; }
        public ITimer? Timer { get; set; }
        public int Ticking;

        public void Add(GateEvaluation evaluation)
        {
            if (_evaluations.Count == EvaluationsKept)
            {
                _evaluations.Dequeue();
            }
            _evaluations.Enqueue(evaluation);
        }

        public IReadOnlyList<GateEvaluation> Evaluations() => [.. _evaluations];

        public void Stop()
        {
            Timer?.Dispose();
            Timer = null;
            Generation++;
        }
    }

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Canary {Model}/{Version} {How}: step {Step} of {Steps}, {Weight}% of the traffic")]
    private static partial void LogStep(ILogger log, string model, string version, string how, int step, int steps, int weight);

    [LoggerMessage(EventId = 402, Level = LogLevel.Warning, Message = "Canary {Model}/{Version} failed its gates at step {Step} (failed check {Failures}, failure_limit {Limit}): {Reason}")]
    private static partial void LogGateFailed(ILogger log, string model, string version, int step, int failures, int limit, string reason);

    [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "Canary {Model}/{Version} rolled back: its traffic is 0. Why: {Reason}")]
    private static partial void LogRolledBack(ILogger log, string model, string version, string reason);

    [LoggerMessage(EventId = 404, Level = LogLevel.Information, Message = "Canary {Model}/{Version} promoted after {Steps} steps: it is the stable version")]
    private static partial void LogPromoted(ILogger log, string model, string version, int steps);

    [LoggerMessage(EventId = 405, Level = LogLevel.Warning, Message = "Canary {Model}/{Version} aborted: {Reason}")]
    private static partial void LogAborted(ILogger log, string model, string version, string reason);

    [LoggerMessage(EventId = 406, Level = LogLevel.Error, Message = "Canary {Model}: the analysis of an interval failed")]
    private static partial void LogTickFailed(ILogger log, string model, Exception exception);
}
