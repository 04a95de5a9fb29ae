using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Sluice.Cli.Options;
using Sluice.Cli.Tests.Support;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;

namespace Sluice.Cli.Tests.Commands;

/// <summary>
/// `sluice bench soak` against a real `sluice serve` started as a child process: whatever the load does to that
/// server (up to killing it) shows in the report instead of taking the test process down.
/// </summary>
public sealed class BenchSoakTests
{
    private static readonly Lazy<string> Model = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"sluice-cli-soak-{Environment.ProcessId}.gguf");
        var shape = ModelShape.Tiny with { Name = "soak", EmbeddingLength = 64, BlockCount = 2, HeadCount = 4, HeadCountKv = 2, FeedForwardLength = 128, ContextLength = 512, VocabSize = null, Tied = true };
        ModelSynthesizer.Write(new SynthesisOptions(shape, WeightMix.F16, SynthVocabulary.Bytes()) { Seed = 5 }, path);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(path);
        return path;
    });

    [Fact]
    public async Task BenchSoak_AgainstARealServer_ReportsOutcomesMemoryAndLatencyPerMinute()
    {
        await using var server = await ChildServer.StartAsync(Model.Value);
        var (rc, output, error) = await Task.Run(() => CliRunner.Run("bench", "soak", "--url", server.Url, "--duration", "5s", "--concurrency", "4", "--seed", "1", "--json"));
        Assert.True(output.Length > 0, error);
        using var doc = JsonDocument.Parse(output);
        var r = doc.RootElement;

        // the report's fields
        Assert.Equal(4, r.GetProperty("concurrency").GetInt32());
        Assert.Equal(1, r.GetProperty("seed").GetInt32());
        Assert.Equal(5, r.GetProperty("planned_duration_s").GetDouble());
        int requests = r.GetProperty("requests").GetInt32();
        var o = r.GetProperty("outcomes");
        int Sum(string name) => o.GetProperty(name).EnumerateObject().Sum(p => p.Value.GetInt32());
        int counted = o.GetProperty("ok").GetInt32() + Sum("client_errors") + Sum("server_errors") + o.GetProperty("cancelled").GetInt32()
            + o.GetProperty("transport_errors").GetInt32() + o.GetProperty("hangs").GetInt32();
        Assert.True(requests > 20, $"only {requests} requests in 5 s: {output}");
        Assert.Equal(requests, counted);
        Assert.True(o.GetProperty("ok").GetInt32() > 0, output);
        Assert.True(o.GetProperty("cancelled").GetInt32() > 0, output);
        Assert.True(o.GetProperty("client_errors").TryGetProperty("400", out _), output);
        var minutes = r.GetProperty("latency_by_minute").EnumerateArray().ToList();
        Assert.NotEmpty(minutes);
        Assert.Equal(0, minutes[0].GetProperty("minute").GetInt32());
        Assert.True(minutes[0].GetProperty("requests").GetInt32() > 0, output);
        Assert.True(minutes[0].GetProperty("p99_ms").GetDouble() >= minutes[0].GetProperty("p50_ms").GetDouble());
        Assert.True(minutes[0].GetProperty("p50_ms").GetDouble() > 0);
        var memory = r.GetProperty("memory");
        Assert.True(memory.GetProperty("rss_start_bytes").GetInt64() > 0, output);
        Assert.True(memory.GetProperty("heap_start_bytes").GetInt64() > 0, output);
        Assert.Equal(JsonValueKind.Array, r.GetProperty("errors").ValueKind);

        // the verdict, and what the soak asks of the server: no 5xx, no hang, still up
        bool failed = r.GetProperty("failed").GetBoolean();
        Assert.Equal(failed ? 1 : 0, rc);
        Assert.Equal(failed, r.GetProperty("failure_reasons").GetArrayLength() > 0);
        string serverLog = r.GetProperty("server_died").GetBoolean() ? await server.StderrAfterExitAsync() : "";
        Assert.False(failed, $"the soak failed: {string.Join("; ", r.GetProperty("failure_reasons").EnumerateArray())}\nfirst errors:\n" +
            string.Join("\n", r.GetProperty("errors").EnumerateArray()) + (serverLog.Length > 0 ? $"\nthe server's stderr:\n{serverLog[..Math.Min(serverLog.Length, 3000)]}" : ""));
        Assert.False(r.GetProperty("server_died").GetBoolean());
        Assert.True(memory.GetProperty("rss_end_bytes").GetInt64() > 0, output);
        Assert.True(memory.GetProperty("heap_end_bytes").GetInt64() > 0, output);
    }

    [Fact]
    public async Task BenchSoak_TextReport_HasTheOutcomeLinesAndTheMinuteTable()
    {
        await using var server = await ChildServer.StartAsync(Model.Value);
        var (_, output, error) = await Task.Run(() => CliRunner.Run("bench", "soak", "--url", server.Url, "--duration", "2s", "--concurrency", "2"));
        Assert.Contains("sluice bench soak:", error);
        foreach (var line in new[] { "Requests:", "  ok:", "  4xx:", "  5xx:", "  cancelled by us:", "  transport errors:", "  hangs (> 120 s):", "Server died:", "Resident memory:", "Managed heap:", "p99 ms" })
        {
            Assert.Contains(line, output);
        }
        Assert.Matches(@"\n\s+0\s+\d+\s+[\d.]+\s+[\d.]+\n", output);
        Assert.Matches("(PASS|FAIL): ", output);
    }

    [Fact]
    public async Task BenchSoak_ServerKilledMidRun_ReportsItDiedAndFails()
    {
        var server = await ChildServer.StartAsync(Model.Value);
        var soak = Task.Run(() => CliRunner.Run("bench", "soak", "--url", server.Url, "--duration", "60s", "--concurrency", "2", "--json"));
        await Task.Delay(1500);
        await server.DisposeAsync(); // kills it (if the load has not already)
        var (rc, output, error) = await soak.WaitAsync(TimeSpan.FromSeconds(45));
        Assert.Equal(1, rc);
        using var doc = JsonDocument.Parse(output);
        var r = doc.RootElement;
        Assert.True(r.GetProperty("server_died").GetBoolean(), output + error);
        double died = r.GetProperty("server_died_after_s").GetDouble();
        Assert.InRange(died, 0, 30);
        Assert.True(r.GetProperty("duration_s").GetDouble() < 45, "the soak stops once the server is gone");
        Assert.Contains(r.GetProperty("failure_reasons").EnumerateArray(), e => e.GetString()!.Contains("died", StringComparison.Ordinal));
        Assert.Equal(JsonValueKind.Null, r.GetProperty("memory").GetProperty("rss_end_bytes").ValueKind);
    }

    [Theory]
    [InlineData("--duration", "-5m", "negative")]
    [InlineData("--duration", "0", "longer than zero")]
    [InlineData("--duration", "soon", "not a duration")]
    [InlineData("--concurrency", "0", "--concurrency must be at least 1")]
    [InlineData("--concurrency", "-3", "--concurrency must be at least 1")]
    [InlineData("--request-timeout", "0s", "longer than zero")]
    public void BenchSoak_BadFlag_ExplainsAndExits2(string flag, string value, string says)
    {
        var (rc, output, error) = CliRunner.Run("bench", "soak", "--url", "http://127.0.0.1:9", flag, value);
        Assert.Equal(2, rc);
        Assert.Equal("", output);
        Assert.Contains("error:", error);
        Assert.Contains(says, error);
    }

    [Fact]
    public void BenchSoak_Unreachable_Exits2()
    {
        var (rc, _, error) = CliRunner.Run("bench", "soak", "--url", "http://127.0.0.1:9", "--duration", "1s");
        Assert.Equal(2, rc);
        Assert.Contains("error: cannot start the soak", error);
    }

    [Theory]
    [InlineData("20m", 1200)]
    [InlineData("1h30m", 5400)]
    [InlineData("90", 90)]
    [InlineData("90s", 90)]
    [InlineData("500ms", 0.5)]
    [InlineData("1.5h", 5400)]
    public void Duration_Parses_AsOperatorsWriteIt(string text, double seconds) =>
        Assert.Equal(seconds, Duration.Parse(text).TotalSeconds, 6);

    /// <summary>`sluice serve` as a child process (small limits, so the soak crosses them); disposing kills it.</summary>
    private sealed class ChildServer : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly Task<string> _stderr;

        private ChildServer(Process process, Task<string> stderr, string url)
        {
            _process = process;
            _stderr = stderr;
            Url = url;
        }

        public string Url { get; }

        /// <summary>What the server wrote on stderr, once it has exited (a crash says why there); empty if it does not exit within 10 s.</summary>
        public async Task<string> StderrAfterExitAsync()
        {
            try
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                return $"(exit code {_process.ExitCode})\n" + await _stderr.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (TimeoutException)
            {
                return "";
            }
        }

        public static async Task<ChildServer> StartAsync(string model)
        {
            string sluice = Path.Combine(AppContext.BaseDirectory, "sluice.dll");
            var start = new ProcessStartInfo("dotnet",
                [sluice, "serve", "--model", model, "--port", "0", "--no-warmup", "--threads", "1", "--max-num-seqs", "4", "--max-num-queued-reqs", "8",
                 "--max-model-len", "256", "--kv-cache-memory", "4MiB", "--log-level", "warning"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string? url = null;
            while (url == null && await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) is { } line)
            {
                const string Prefix = "sluice: listening on ";
                if (line.StartsWith(Prefix, StringComparison.Ordinal))
                {
                    url = line[Prefix.Length..];
                }
            }
            var server = new ChildServer(process, stderr, url ?? throw new InvalidOperationException("sluice serve did not say where it listens: " + await stderr));
            _ = process.StandardOutput.ReadToEndAsync();
            using var client = new HttpClient { BaseAddress = new Uri(url) };
            for (int i = 0; i < 600 && (await client.GetAsync("/health/ready")).StatusCode != HttpStatusCode.OK; i++)
            {
                await Task.Delay(50);
            }
            return server;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
        }
    }
}
