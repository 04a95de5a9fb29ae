using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Sluice.Gateway.Configuration;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Rollouts;
using Sluice.Gateway.Routing;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tests.Rollouts;

/// <summary>The canary analysis state machine on fake time: the samples are fed directly, as the proxy reports them.</summary>
public sealed class CanaryControllerTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly Router _router;
    private readonly GatewayMetrics _metrics;
    private readonly CanaryController _canary;

    public CanaryControllerTests()
    {
        _router = new Router(_time);
        _metrics = new GatewayMetrics(_router);
        _canary = new CanaryController(_router, _metrics, _time, NullLogger<CanaryController>.Instance);
    }

    private void Load(string canary, string traffic = "{v1: 100, v2: 0}") => _router.Apply(GatewayConfigReader.Parse($"""
        models:
          - name: demo
            traffic: {traffic}
            deployments:
              - {"{"}url: 'http://127.0.0.1:1', version: v1{"}"}
              - {"{"}url: 'http://127.0.0.1:2', version: v2{"}"}
            canary:
              version: v2
              steps: [10, 50, 100]
              interval: 1m
              min_requests: 10
        {canary}
        """), "file", "test");

    private void Feed(string version, int attempts, int errors = 0, double ttft = 0.05, double itl = 0.01)
    {
        for (int i = 0; i < attempts; i++)
        {
            _metrics.AttemptEnded("demo", version, version, i < errors ? "status_503" : null, 0.1);
            _metrics.ObserveTtft(ttft, "demo", version, version);
            _metrics.ObserveItl(itl, "demo", version, version);
        }
    }

    private int CanaryPercent => _router.SplitOf("demo").Percent["v2"];

    [Fact]
    public void HealthyCanary_AdvancesStepByStep_ThenIsPromotedToStable()
    {
        Load("");
        Assert.Equal(10, CanaryPercent);
        Assert.Equal(CanaryState.Progressing, _canary.Get("demo").State);
        Feed("v1", 90);
        Feed("v2", 10);
        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(10, CanaryPercent); // not before the interval ends
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(50, CanaryPercent);
        Assert.Equal(2, _canary.Get("demo").Step);
        Feed("v1", 50);
        Feed("v2", 50);
        _time.Advance(TimeSpan.FromMinutes(1));
        var split = _router.SplitOf("demo");
        Assert.Equal(100, split.Percent["v2"]);
        Assert.Equal("v2", split.Stable);
        Assert.Equal("v1", split.Previous);
        var view = _canary.Get("demo");
        Assert.Equal(CanaryState.Promoted, view.State);
        Assert.All(view.Evaluations, e => Assert.Equal("pass", e.Result));
        var history = _router.History.All().Where(c => c.Source == "canary").Select(c => c.Action).ToList();
        Assert.Equal(["canary v2 started (start: auto): step 1 of 3", "canary v2 step 2 of 3", "promoted v2"], history);
        Assert.Contains("sluice_gateway_canary_state{model=\"demo\",version=\"v2\"} 2", _metrics.Registry.Render(), StringComparison.Ordinal);
    }

    [Fact]
    public void ErrorRateBreach_SetsTheCanaryToZeroAtTheEndOfTheInterval_AndSaysWhy()
    {
        Load("");
        Feed("v1", 90, errors: 1);
        Feed("v2", 20, errors: 5);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, CanaryPercent);
        Assert.Equal(100, _router.SplitOf("demo").Percent["v1"]);
        var view = _canary.Get("demo");
        Assert.Equal(CanaryState.RolledBack, view.State);
        Assert.Contains("error_rate: error rate 25% (5 of 20) vs stable 1.11%", view.Reason, StringComparison.Ordinal);
        Assert.Contains(view.Evaluations, e => e.Gate == "error_rate" && e.Result == "fail");
        var last = _router.History.All()[^1];
        Assert.Equal(("canary", "canary v2 rolled back"), (last.Source, last.Action));
        Assert.Equal(view.Reason, last.Detail);
        string metrics = _metrics.Registry.Render();
        Assert.Contains("sluice_gateway_canary_gate_evaluations_total{model=\"demo\",gate=\"error_rate\",result=\"fail\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("sluice_gateway_canary_weight_percent{model=\"demo\",version=\"v2\"} 0", metrics, StringComparison.Ordinal);
        // nothing more happens: the analysis is over
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(0, CanaryPercent);
    }

    [Fact]
    public void FourHundreds_AreNotTheCanarysErrors()
    {
        Load("");
        Feed("v1", 20);
        for (int i = 0; i < 20; i++)
        {
            _metrics.AttemptEnded("demo", "v2", "b", i % 2 == 0 ? "status_429" : null, 0.1);
        }
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(50, CanaryPercent);
    }

    [Theory]
    [InlineData("ttft", "ttft_p95: p95 time to first token 500 ms vs stable 50 ms")]
    [InlineData("itl", "itl_p95: p95 inter-token latency 300 ms vs stable 10 ms")]
    public void LatencyBreach_RollsBack_NamingTheGate(string which, string reason)
    {
        Load("");
        Feed("v1", 90);
        Feed("v2", 20, ttft: which == "ttft" ? 0.5 : 0.05, itl: which == "itl" ? 0.3 : 0.01);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, CanaryPercent);
        Assert.StartsWith(reason, _canary.Get("demo").Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void LatencyWithinRatioAndSlack_Passes()
    {
        Load("");
        Feed("v1", 90, ttft: 0.1);
        Feed("v2", 20, ttft: 0.16); // 1.5 × 100 ms + 20 ms = 170 ms
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(50, CanaryPercent);
    }

    [Fact]
    public void FailureLimit_HoldsTheStepOnAFailedCheck_AndRollsBackOnTheNextOne()
    {
        Load("      failure_limit: 1\n");
        Feed("v1", 90);
        Feed("v2", 20, errors: 10);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(10, CanaryPercent);
        Assert.Equal(1, _canary.Get("demo").FailedChecks);
        Feed("v1", 90);
        Feed("v2", 20, errors: 10);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, CanaryPercent);
        Assert.Equal(CanaryState.RolledBack, _canary.Get("demo").State);
    }

    [Fact]
    public void TooFewRequests_HoldTheStep_AsInconclusive()
    {
        Load("");
        Feed("v1", 40);
        Feed("v2", 3);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(10, CanaryPercent);
        var view = _canary.Get("demo");
        Assert.Equal(CanaryState.Progressing, view.State);
        Assert.Contains(view.Evaluations, e => e.Gate == "error_rate" && e.Result == "inconclusive" && e.Reason.Contains("3 attempts", StringComparison.Ordinal));
    }

    [Fact]
    public void NoStreams_LatencyGatesHaveNoData_AndDoNotBlock()
    {
        Load("");
        for (int i = 0; i < 20; i++)
        {
            _metrics.AttemptEnded("demo", "v1", "a", null, 0.1);
            _metrics.AttemptEnded("demo", "v2", "b", null, 0.1);
        }
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(50, CanaryPercent);
        Assert.Contains(_canary.Get("demo").Evaluations, e => e.Gate == "ttft_p95" && e.Result == "no_data");
    }

    [Fact]
    public void TrafficChangedByHand_AbortsTheAnalysis()
    {
        Load("");
        _router.SetTraffic("demo", new Dictionary<string, int> { ["v1"] = 70, ["v2"] = 30 }, "key:someone");
        Feed("v1", 70);
        Feed("v2", 30);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(30, CanaryPercent);
        var view = _canary.Get("demo");
        Assert.Equal(CanaryState.Aborted, view.State);
        Assert.Contains("changed outside the analysis", view.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ManualStart_AbortAndResume_MoveTrafficAndState()
    {
        Load("      start: manual\n");
        Assert.Equal(0, CanaryPercent);
        Assert.Equal(CanaryState.Idle, _canary.Get("demo").State);
        Assert.Equal(409, Assert.Throws<ApiException>(() => _canary.Abort("demo", "key:a")).Status);
        _canary.Start("demo", "key:a");
        Assert.Equal(10, CanaryPercent);
        Feed("v1", 90);
        Feed("v2", 10);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(50, CanaryPercent);
        _canary.Abort("demo", "key:a");
        Assert.Equal(0, CanaryPercent);
        Assert.Equal("aborted by key:a", _canary.Get("demo").Reason);
        _canary.Resume("demo", "key:a");
        Assert.Equal(50, CanaryPercent); // at the step it had reached
        Assert.Equal(CanaryState.Progressing, _canary.Get("demo").State);
        Assert.Equal(409, Assert.Throws<ApiException>(() => _canary.Start("demo", "key:a")).Status);
        Assert.Equal(404, Assert.Throws<ApiException>(() => _canary.Get("other")).Status);
    }

    [Fact]
    public void ReloadWithTheSameCanary_KeepsTheAnalysis_AndAChangedOneStartsAgain()
    {
        Load("");
        Feed("v1", 90);
        Feed("v2", 10);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(50, CanaryPercent);
        Load("");
        Assert.Equal(50, CanaryPercent);
        Assert.Equal(2, _canary.Get("demo").Step);
        Load("      failure_limit: 2\n");
        Assert.Equal(10, CanaryPercent);
        Assert.Equal(1, _canary.Get("demo").Step);
    }

    [Fact]
    public async Task GoldenCommand_FailingExit_RollsBack_WithItsOutput()
    {
        Load("      golden_command: \"echo checked {url} {model} >&2; exit 3\"\n");
        Feed("v1", 90);
        Feed("v2", 10);
        _time.Advance(TimeSpan.FromMinutes(1));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (_canary.Get("demo").State == CanaryState.Progressing && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.Equal(0, CanaryPercent);
        Assert.Equal("golden: golden command exited 3: checked http://127.0.0.1:2 demo", _canary.Get("demo").Reason);
    }

    public void Dispose() => _canary.Dispose();
}
