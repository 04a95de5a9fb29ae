using Sluice.Hosting.Metrics.Exposition;

namespace Sluice.Hosting.Tests.Metrics.Exposition;

/// <summary>The text format itself: cumulative buckets with inclusive bounds, escaping, ordering.</summary>
public sealed class ExpositionTests
{
    [Fact]
    public void Histogram_CountsCumulatively_WithInclusiveUpperBounds()
    {
        var r = new MetricRegistry();
        var h = r.Add(new Histogram("t_seconds", "help", [0.1, 1], "route"));
        h.Observe(0.1, "/a");
        h.Observe(0.5, "/a");
        h.ObserveAll([1, 7], "/a");
        string text = r.Render();
        Assert.Contains("t_seconds_bucket{route=\"/a\",le=\"0.1\"} 1\n", text);
        Assert.Contains("t_seconds_bucket{route=\"/a\",le=\"1\"} 3\n", text);
        Assert.Contains("t_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n", text);
        Assert.Contains("t_seconds_sum{route=\"/a\"} 8.6\n", text);
        Assert.Contains("t_seconds_count{route=\"/a\"} 4\n", text);
        Assert.StartsWith("# HELP t_seconds help\n# TYPE t_seconds histogram\n", text);
    }

    [Fact]
    public void LabelValues_AreEscaped_AndSeriesSorted()
    {
        var r = new MetricRegistry();
        var c = r.Add(new Counter("x_total", "a \\ help\nline", "v"));
        c.Increment("b");
        c.Add(2, "a\"q\\\n");
        string text = r.Render();
        Assert.Contains("# HELP x_total a \\\\ help\\nline\n", text);
        Assert.True(text.IndexOf("x_total{v=\"a\\\"q\\\\\\n\"} 2", StringComparison.Ordinal) < text.IndexOf("x_total{v=\"b\"} 1", StringComparison.Ordinal), text);
    }

    [Fact]
    public void Registry_RefusesDuplicatesBadNamesAndWrongArity()
    {
        var r = new MetricRegistry();
        r.Add(new Counter("a_total", "h"));
        Assert.Throws<ArgumentException>(() => r.Add(new Counter("a_total", "h")));
        Assert.Throws<ArgumentException>(() => new Counter("1bad", "h"));
        Assert.Throws<ArgumentException>(() => new Histogram("h", "h", [2, 1]));
        Assert.Throws<ArgumentException>(() => new Counter("b_total", "h", "l").Increment());
    }
}
