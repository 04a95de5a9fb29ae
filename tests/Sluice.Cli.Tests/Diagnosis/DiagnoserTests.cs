using Sluice.Cli.Diagnosis;

namespace Sluice.Cli.Tests.Diagnosis;

/// <summary>The diagnosis rules on numbers given directly: the conditions a live server is slow to reach in a test.</summary>
public sealed class DiagnoserTests
{
    private static readonly HealthInfo Ready = new(true, null, "ready", "m");

    private static readonly DoctorNumbers Base = new()
    {
        WindowSeconds = 10,
        Requests = 100,
        MaxNumSeqs = 16,
        MaxNumBatchedTokens = 512,
        MaxModelLen = 4096,
        PrefixCaching = true,
        TtftMean = 0.2,
        QueueMean = 0.05,
        PrefillMean = 0.15,
        ItlMean = 0.02,
        MeanBatchSequences = 8,
        MeanBatchTokens = 40,
        KvUsage = 0.3,
        KvUsageMax = 0.4,
    };

    private static IEnumerable<string> Symptoms(DoctorNumbers n) => Diagnoser.Diagnose(n, Ready, new DoctorThresholds()).Select(f => f.Symptom);

    [Fact]
    public void OrdinaryNumbers_AreHealthy() => Assert.Equal(["healthy"], Symptoms(Base));

    [Fact]
    public void SlowSteps_AreSlowDecode_WithTokensPerSecond()
    {
        var finding = Diagnoser.Diagnose(Base with { ItlMean = 0.25 }, Ready, new DoctorThresholds()).Single();
        Assert.Equal("slow_decode", finding.Symptom);
        Assert.Contains("mean inter-token latency 250 ms (4 tokens/s per sequence)", finding.Evidence[0]);
    }

    [Fact]
    public void SmallBatchesWhileWaiting_AreLowOccupancy_AndFullStepsPointAtTheTokenBudget()
    {
        var finding = Diagnoser.Diagnose(Base with { MeanBatchSequences = 2, MeanBatchTokens = 500, WaitingMin = 6, Waiting = 6, QueueMean = 0.01 },
            Ready, new DoctorThresholds()).Single(f => f.Symptom == "low_batch_occupancy");
        Assert.StartsWith("steps are full of tokens: raise --max-num-batched-tokens (now 512)", finding.Levers[0]);
    }

    [Fact]
    public void ServerFaults_AreACriticalErrorBurst_AndClientDisconnectsAreNoErrors()
    {
        var errors = new Dictionary<string, double> { ["internal"] = 6 };
        var finding = Diagnoser.Diagnose(Base with { Errors = 6, ErrorRate = 0.06, ErrorsByKind = errors }, Ready, new DoctorThresholds()).First();
        Assert.Equal(("error_burst", Severity.Critical), (finding.Symptom, finding.Severity));
        Assert.Equal("6 of 100 requests failed in 10 s (6%)", finding.Evidence[0]);
        Assert.Equal(["healthy"], Symptoms(Base with { Errors = 2, ErrorRate = 0.02 }));
    }

    [Fact]
    public void NotReady_ComesFirst_WithTheStatesLever()
    {
        var findings = Diagnoser.Diagnose(Base, new HealthInfo(false, "model failed to load: bad", "failed", null), new DoctorThresholds());
        Assert.Equal("model_not_ready", findings[0].Symptom);
        Assert.Contains("sluice model verify", findings[0].Levers[0]);
    }
}
