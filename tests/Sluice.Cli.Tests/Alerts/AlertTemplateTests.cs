using Sluice.Cli.Alerts;
using Sluice.Cli.Tests.Support;
using Sluice.Tests.Shared;

namespace Sluice.Cli.Tests.Alerts;

/// <summary>deploy/prometheus/sluice-alerts.template.yml and `sluice alerts render`: the job label and thresholds as parameters.</summary>
public sealed class AlertTemplateTests
{
    private const string TemplatePath = "deploy/prometheus/sluice-alerts.template.yml";

    private static AlertTemplate Template() => AlertTemplate.Parse(RepoFiles.Read(TemplatePath), TemplatePath);

    [Fact]
    public void DefaultRendering_IsTheCommittedRulesFile()
    {
        Assert.Equal(RepoFiles.Read("deploy/prometheus/sluice-alerts.yml"), Template().Render(new Dictionary<string, string>()));
        var (rc, output, error) = CliRunner.Run("alerts", "render", RepoFiles.PathOf(TemplatePath));
        Assert.True(rc == 0, error);
        Assert.Equal(RepoFiles.Read("deploy/prometheus/sluice-alerts.yml"), output);
    }

    [Fact]
    public void Render_JobAndThresholds_LandInEverySelectorAndRule()
    {
        var (rc, rules, error) = CliRunner.Run("alerts", "render", RepoFiles.PathOf(TemplatePath), "--job", "vllm", "--set", "ttft_p95_seconds=2.5",
            "--set", "error_rate_percent=1", "--set", "tls_expiry_days=30");
        Assert.True(rc == 0, error);
        Assert.DoesNotContain("job=\"sluice\"", rules, StringComparison.Ordinal);
        Assert.DoesNotContain("${", rules, StringComparison.Ordinal);
        Assert.Contains("up{job=\"vllm\"} == 0", rules, StringComparison.Ordinal);
        Assert.Contains("rate(sluice_time_to_first_token_seconds_bucket{job=\"vllm\"}[5m])))\n            > 2.5", rules, StringComparison.Ordinal);
        Assert.Contains("p95 TTFT has been over 2.5 s", rules, StringComparison.Ordinal);
        Assert.Contains("> 1 / 100", rules, StringComparison.Ordinal);
        Assert.Contains("time() < 30 * 86400", rules, StringComparison.Ordinal);
        // every metric selector of every rule names the job
        foreach (var line in rules.Split('\n').Where(l => l.Contains("sluice_", StringComparison.Ordinal) && l.Contains('[', StringComparison.Ordinal) && !l.TrimStart().StartsWith('#')))
        {
            Assert.Contains("job=\"vllm\"", line, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(new[] { "--set", "ttft_p59_seconds=2" }, "unknown variable 'ttft_p59_seconds'")]
    [InlineData(new[] { "--set", "ttft_p95_seconds=fast" }, "'ttft_p95_seconds' must be a plain decimal number")]
    [InlineData(new[] { "--set", "error_rate_percent=-1" }, "'error_rate_percent' must be a plain decimal number")]
    [InlineData(new[] { "--job", "a\"b" }, "'job' must be a label value")]
    [InlineData(new[] { "--set", "job" }, "--set 'job': write VAR=VALUE")]
    public void Render_BadVariableOrValue_ExitsTwoNamingIt(string[] args, string expected)
    {
        var (rc, output, error) = CliRunner.Run(["alerts", "render", RepoFiles.PathOf(TemplatePath), .. args]);
        Assert.Equal(2, rc);
        Assert.Empty(output);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Variables_ListsEveryVariableWithItsDefault()
    {
        var (rc, output, _) = CliRunner.Run("alerts", "variables", RepoFiles.PathOf(TemplatePath));
        Assert.Equal(0, rc);
        foreach (var v in Template().Variables)
        {
            Assert.Contains(v.Name, output, StringComparison.Ordinal);
        }
        Assert.Contains("ttft_p95_seconds", output, StringComparison.Ordinal);
        string readme = RepoFiles.Read("deploy/prometheus/README.md");
        Assert.All(Template().Variables, v => Assert.Contains($"`{v.Name}`", readme, StringComparison.Ordinal)); // documented
    }

    [Theory]
    [InlineData("#@ a (label) = x: one\nv: ${b}", "uses ${b} but declares no variable 'b'")]
    [InlineData("#@ a (label) = x: one\nv: 1", "declares 'a' but never uses it")]
    [InlineData("#@ a (number) = x: one\nv: ${a}", "the default of 'a' must be a plain decimal number")]
    [InlineData("#@ a = x\nv: ${a}", "is not a declaration")]
    public void Parse_BrokenTemplate_FailsSayingWhat(string text, string expected)
    {
        var ex = Assert.ThrowsAny<Exception>(() => AlertTemplate.Parse(text, "t.yml"));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("sluice")]
    [InlineData("vllm")]
    public async Task Promtool_PassesTheRuleUnitTests_OnARendering(string job)
    {
        string promtool = Promtool.Require();
        var dir = Directory.CreateTempSubdirectory("sluice-alerts-");
        try
        {
            var (rc, rules, error) = CliRunner.Run("alerts", "render", RepoFiles.PathOf(TemplatePath), "--job", job);
            Assert.True(rc == 0, error);
            File.WriteAllText(Path.Combine(dir.FullName, "sluice-alerts.yml"), rules);
            // the unit tests' series and expected labels, scraped under the rendered job
            string tests = RepoFiles.Read("deploy/prometheus/tests/sluice-alerts.test.yml")
                .Replace("job=\"sluice\"", $"job=\"{job}\"", StringComparison.Ordinal)
                .Replace("job: sluice", $"job: {job}", StringComparison.Ordinal)
                .Replace("../sluice-alerts.yml", "sluice-alerts.yml", StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(dir.FullName, "tests.yml"), tests);
            var (code, output) = await Promtool.RunAsync(promtool, ["test", "rules", "tests.yml"], workingDirectory: dir.FullName);
            Assert.True(code == 0, output);
            Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
