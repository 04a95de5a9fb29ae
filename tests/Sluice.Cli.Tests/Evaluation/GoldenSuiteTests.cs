using Sluice.Cli.Evaluation;
using Sluice.Cli.Tests.Support;

namespace Sluice.Cli.Tests.Evaluation;

public sealed class GoldenSuiteTests
{
    [Fact]
    public void Load_FullSuite_ReadsEveryCheckAndTheDefaults()
    {
        string path = Write("""
            model: m
            max_tokens: 12
            cases:
              - name: capital
                prompt: "The capital of France is"
                contains: [Paris, " "]
                regex: "^\\s*P"
                max_latency: 1500ms
              - name: json
                messages:
                  - {role: user, content: "Give JSON"}
                max_tokens: 40
                json: true
                exact: "{}"
            """);
        var suite = GoldenSuite.Load(path);
        Assert.Equal("m", suite.Model);
        var (a, b) = (suite.Cases[0], suite.Cases[1]);
        Assert.Equal(12, a.MaxTokens);
        Assert.Equal(["Paris", " "], a.Contains);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), a.MaxLatency);
        Assert.Equal(4, a.CheckCount);
        Assert.Equal(40, b.MaxTokens);
        Assert.Equal([("user", "Give JSON")], b.Messages!);
        Assert.True(b.Json);
    }

    [Fact]
    public void Load_ShippedSmokeSuite_Parses()
    {
        var suite = GoldenSuite.Load(RepoFiles.PathOf("deploy/golden/smoke.yaml"));
        Assert.Equal(2, suite.Cases.Count);
        Assert.NotNull(suite.Cases[1].Messages);
    }

    [Theory]
    [InlineData("cases: []", "'cases' must be a non-empty list")]
    [InlineData("cases:\n  - prompt: x\n    exact: y", "case 1: has no 'name'")]
    [InlineData("cases:\n  - name: a\n    prompt: x\n    exat: y", "case 1 ('a'): unknown key 'exat'")]
    [InlineData("cases:\n  - name: a\n    prompt: x", "case 1 ('a'): has no check")]
    [InlineData("cases:\n  - name: a\n    prompt: x\n    messages: [{role: user, content: x}]\n    json: true", "give exactly one of 'prompt' and 'messages'")]
    [InlineData("cases:\n  - name: a\n    prompt: x\n    regex: '('", "case 1 ('a'): regex '(' does not compile")]
    [InlineData("cases:\n  - name: a\n    prompt: x\n    json: yes", "json must be true or false, got 'yes'")]
    [InlineData("cases:\n  - name: a\n    prompt: x\n    max_latency: soon", "max_latency 'soon' is not a duration")]
    [InlineData("cases:\n  - name: a\n    prompt: x\n    json: true\n  - name: a\n    prompt: y\n    json: true", "case 2: the name 'a' is used twice")]
    [InlineData("cases:\n  - name: a\n    prompt: x\n    json: true\n    max_tokens: 0", "max_tokens must be a whole number from 1")]
    [InlineData("cases: [", "not valid YAML")]
    public void EvalGolden_MalformedSuite_NamesTheEntryAndExitsTwo(string yaml, string message)
    {
        string path = Write(yaml);
        // the suite is checked before the server is called: nothing listens on port 9
        var (rc, _, error) = CliRunner.Run("eval", "golden", "--url", "http://127.0.0.1:9", "--suite", path);
        Assert.Equal(2, rc);
        Assert.Contains(message, error);
    }

    [Fact]
    public void Check_EachKind_FailsWithASentenceNamingIt()
    {
        var c = new GoldenCase("c", "p", null, 8, "abc", ["zz"], new System.Text.RegularExpressions.Regex("^x"), true, TimeSpan.FromMilliseconds(10));
        var failures = GoldenRunner.Check(c, "abd", latencyMs: 11);
        Assert.Equal(5, failures.Count);
        Assert.StartsWith("exact: expected \"abc\", got \"abd\"", failures[0]);
        Assert.StartsWith("contains: \"zz\" not in", failures[1]);
        Assert.StartsWith("regex: /^x/", failures[2]);
        Assert.StartsWith("json: not valid JSON", failures[3]);
        Assert.Equal("max_latency: 11 ms over 10 ms", failures[4]);
        Assert.Empty(GoldenRunner.Check(c with { Exact = "{\"x\":1}", Contains = ["x"], Pattern = new System.Text.RegularExpressions.Regex("^\\{") }, "{\"x\":1}", 9));
    }

    // one folder per test process for the suites the tests write, removed when the process exits
    private static readonly Lazy<string> Folder = new(() =>
    {
        string dir = Directory.CreateTempSubdirectory("sluice-golden-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(dir, recursive: true);
        return dir;
    });

    internal static string Write(string yaml)
    {
        string path = Path.Combine(Folder.Value, $"{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }
}
