using System.Text.Json;
using Sluice.Cli.Tests.Evaluation;
using Sluice.Cli.Tests.Support;
using Sluice.Engine.Models;
using Sluice.Engine.Serving;
using Sluice.Server;

namespace Sluice.Cli.Tests.Commands;

public sealed class EvalGoldenCommandTests
{
    [Fact]
    public async Task EvalGolden_AgainstARealServer_PassesTheGreedyOutputAndFailsAWrongOne()
    {
        string model = TinyModels.HeadDim32();
        await using var server = SluiceServer.Create(new ServerOptions { Port = 0, Warmup = false },
            new EngineOptions { MaxNumSeqs = 4, KvCacheMemory = 4 << 20, Threads = 1 }, () => ModelLoader.Load(model), new ServerHooks { Logging = _ => { } });
        await server.StartAsync();
        await server.Host.Settled;
        string url = server.Addresses[0].ToString();

        string probe = GoldenSuiteTests.Write("cases:\n  - name: probe\n    prompt: hello\n    max_tokens: 6\n    max_latency: 60s\n");
        string first = await OutputAsync(url, probe);
        Assert.Equal(first, await OutputAsync(url, probe)); // greedy: the same words every run

        string pass = GoldenSuiteTests.Write($"""
            cases:
              - name: same
                prompt: hello
                max_tokens: 6
                exact: {JsonSerializer.Serialize(first)}
                contains: {JsonSerializer.Serialize(first[..Math.Min(2, first.Length)])}
                regex: "[\\s\\S]*"
                max_latency: 60s
            """);
        var (rc, output, error) = await Task.Run(() => CliRunner.Run("eval", "golden", "--url", url, "--suite", pass));
        Assert.True(rc == 0, output + error);
        Assert.Matches(@"PASS  same  \d+ ms", output);
        Assert.Contains("1 passed, 0 failed", output);

        string fail = GoldenSuiteTests.Write("cases:\n  - name: wrong\n    prompt: hello\n    max_tokens: 6\n    exact: 'not this'\n    json: true\n");
        (rc, output, _) = await Task.Run(() => CliRunner.Run("eval", "golden", "--url", url, "--suite", fail));
        Assert.Equal(1, rc);
        Assert.Contains("FAIL  wrong", output);
        Assert.Contains("exact: expected \"not this\"", output);
        Assert.Contains("0 passed, 1 failed", output);
    }

    [Fact]
    public void EvalGolden_NoServer_ExitsTwoNamingTheUrl()
    {
        string suite = GoldenSuiteTests.Write("cases:\n  - name: a\n    prompt: x\n    json: true\n");
        var (rc, _, error) = CliRunner.Run("eval", "golden", "--url", "http://127.0.0.1:9", "--suite", suite);
        Assert.Equal(2, rc);
        Assert.Contains("error: cannot read http://127.0.0.1:9/", error);
    }

    private static async Task<string> OutputAsync(string url, string suite)
    {
        var (rc, output, error) = await Task.Run(() => CliRunner.Run("eval", "golden", "--url", url, "--suite", suite, "--json"));
        Assert.True(rc == 0, output + error);
        using var doc = JsonDocument.Parse(output);
        return doc.RootElement.GetProperty("cases")[0].GetProperty("output").GetString()!;
    }
}
