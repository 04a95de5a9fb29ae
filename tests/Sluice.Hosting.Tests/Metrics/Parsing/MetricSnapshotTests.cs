using Sluice.Hosting.Metrics.Exposition;
using Sluice.Hosting.Metrics.Parsing;

namespace Sluice.Hosting.Tests.Metrics.Parsing;

public sealed class MetricSnapshotTests
{
    [Fact]
    public void Parse_TheRegistrysOwnExposition_GivesBackEverySeries()
    {
        var r = new MetricRegistry();
        var c = r.Add(new Counter("jobs_total", "Jobs.", "kind", "code"));
        c.Add(3, "a \"quoted\"\nline", "200");
        c.Add(2, "b", "500");
        var h = r.Add(new Histogram("wait_seconds", "Wait.", [0.5, 1]));
        h.Observe(0.25);
        h.Observe(2);
        r.Add(ObservedMetric.Single("up", "Up.", MetricType.Gauge, () => double.NaN));

        var s = MetricSnapshot.Parse(r.Render());

        Assert.Equal(5, s.Sum("jobs_total"));
        Assert.Equal(3, s.Sum("jobs_total", ("kind", "a \"quoted\"\nline")));
        Assert.Equal(2, s.Sum("jobs_total", ("code", "500")));
        Assert.Equal(2, s.Sum("wait_seconds_bucket", ("le", "+Inf")));
        Assert.Equal(1, s.Sum("wait_seconds_bucket", ("le", "1")));
        Assert.Equal(2.25, s.Sum("wait_seconds_sum"));
        Assert.True(double.IsNaN(s.All("up").Single().Value));
        Assert.False(s.Has("absent"));
        Assert.Equal(0, s.Sum("absent"));
    }

    [Fact]
    public void Parse_InfinitiesTimestampsAndJunkLines_ReadsTheSamplesAndSkipsTheRest()
    {
        var s = MetricSnapshot.Parse("# HELP x x\nx{a=\"1\"} +Inf\ny -Inf 1700000000000\nnot a sample line at all\nz 4\n\n");
        Assert.Equal(double.PositiveInfinity, s.All("x").Single().Value);
        Assert.Equal(double.NegativeInfinity, s.All("y").Single().Value);
        Assert.Equal(4, s.Sum("z"));
        Assert.False(s.Has("not"));
    }
}
