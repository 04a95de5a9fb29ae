using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Sluice.Hosting.Errors;
using Sluice.Server.Hosting;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Hosting;

/// <summary>Graceful shutdown: readiness goes false, new requests get 503, in-flight streams finish, then the process exits 0.</summary>
public sealed class DrainTests
{
    // about 2 s of work for the slow model: still running whenever the test acts, even on a loaded machine
    private const string LongStream = """{"prompt": "drain me", "max_tokens": 800, "ignore_eos": true, "temperature": 0, "stream": true}""";

    private static async Task<(HttpResponseMessage Response, StreamReader Reader)> OpenStreamAsync(HttpClient client, string path, string json)
    {
        var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json) }, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        // wait for the first token: the request is running
        while (await reader.ReadLineAsync() is { } line && !line.StartsWith("data: {", StringComparison.Ordinal))
        {
        }
        return (response, reader);
    }

    private static int CountTokens(string firstLineRead, string rest)
    {
        var s = Sse.Parse(rest);
        Assert.True(s.Done, "the stream must end with [DONE]");
        Assert.Equal("length", s.Chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        return s.Chunks.Count + (firstLineRead.Length > 0 ? 1 : 0);
    }

    [Fact]
    public async Task Stop_FinishesInFlightStreams_WhileRefusingNewRequestsAndFailingReadiness()
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { ShutdownTimeout = TimeSpan.FromSeconds(60) }, load: TestModels.LoadSlow);
        var (response, reader) = await OpenStreamAsync(t.Client, "/v1/completions", LongStream);
        var stopping = t.Server.StopAsync();
        for (int i = 0; i < 500 && t.Server.Host.State != ServerState.Draining; i++)
        {
            await Task.Delay(5);
        }
        Assert.Equal(ServerState.Draining, t.Server.Host.State);

        using var fresh = new HttpClient { BaseAddress = t.BaseUri };
        var refused = await fresh.PostAsync("/v1/completions", new StringContent("""{"prompt": "late", "max_tokens": 2}"""));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await fresh.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(1, t.Server.Telemetry.Rejections[AdmissionRejection.Draining]);

        string rest = await reader.ReadToEndAsync();
        Assert.InRange(CountTokens("first", rest), 780, 801);
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        response.Dispose();
    }

    [Fact]
    public async Task Stop_PastTheShutdownTimeout_AbortsWhatIsLeftWithAnErrorEvent()
    {
        // one sequence at a time: the second stream waits behind the first, so it cannot be done when the drain gives up
        await using var t = await TestServer.StartAsync(new ServerOptions { ShutdownTimeout = TimeSpan.FromMilliseconds(200) },
            TestServer.DefaultEngine with { MaxNumSeqs = 1 }, TestModels.LoadSlow);
        var (first, _) = await OpenStreamAsync(t.Client, "/v1/completions", LongStream);
        var second = await t.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(LongStream) },
            HttpCompletionOption.ResponseHeadersRead);
        var stopping = t.Server.StopAsync();
        var s = await Sse.ReadAllAsync(second);
        Assert.True(s.Done);
        Assert.True(s.Chunks[^1].TryGetProperty("error", out var error), $"expected an error event last, got {s.Chunks[^1]} after {s.Chunks.Count} chunks");
        Assert.Equal("service_unavailable", error.GetProperty("code").GetString());
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        first.Dispose();
        second.Dispose();
    }

    [Fact]
    public async Task Sigterm_OnTheSluiceProcess_LetsTheStreamFinishAndExitsZero()
    {
        string sluice = Path.Combine(AppContext.BaseDirectory, "sluice.dll");
        var start = new ProcessStartInfo("dotnet",
            [sluice, "serve", "--model", TestModels.SlowFile, "--port", "0", "--no-warmup", "--threads", "1", "--max-num-seqs", "4",
             "--kv-cache-memory", "16MiB", "--shutdown-timeout", "60", "--log-level", "warning"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            string? line;
            Uri? url = null;
            while (url == null && (line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60))) != null)
            {
                const string Prefix = "sluice: listening on ";
                if (line.StartsWith(Prefix, StringComparison.Ordinal))
                {
                    url = new Uri(line[Prefix.Length..]);
                }
            }
            Assert.NotNull(url);
            var stdout = process.StandardOutput.ReadToEndAsync();
            using var client = new HttpClient { BaseAddress = url };
            for (int i = 0; i < 600 && (await client.GetAsync("/health/ready")).StatusCode != HttpStatusCode.OK; i++)
            {
                await Task.Delay(50);
            }

            var (response, reader) = await OpenStreamAsync(client, "/v1/chat/completions",
                """{"messages": [{"role": "user", "content": "drain"}], "max_tokens": 800, "ignore_eos": true, "stream": true}""");
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var fresh = new HttpClient { BaseAddress = url };
            HttpStatusCode late = HttpStatusCode.OK;
            for (int i = 0; i < 200 && late == HttpStatusCode.OK; i++)
            {
                late = (await fresh.GetAsync("/health/ready")).StatusCode;
            }
            Assert.Equal(HttpStatusCode.ServiceUnavailable, late);

            var s = Sse.Parse(await reader.ReadToEndAsync());
            Assert.True(s.Done, "the stream must end with [DONE]");
            var finish = s.Chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray())
                .Select(c => c.GetProperty("finish_reason")).Where(f => f.ValueKind == JsonValueKind.String).Single();
            Assert.Equal("length", finish.GetString());
            response.Dispose();

            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}: {await stderr}");
            Assert.Contains("sluice: stopped", await stdout);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }
}
