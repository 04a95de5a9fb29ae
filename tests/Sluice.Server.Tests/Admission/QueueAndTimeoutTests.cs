using Microsoft.Extensions.Time.Testing;
using Sluice.Hosting.Errors;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Admission;

/// <summary>The bounded queue (429 + Retry-After) and --request-timeout against a real server.</summary>
public sealed class QueueAndTimeoutTests
{
    private const string Long = """{"prompt": "hold the engine", "max_tokens": 900, "ignore_eos": true, "stream": true}""";

    [Fact]
    public async Task QueueFull_Is429WithRetryAfter_AndCountedByReason()
    {
        var engine = TestServer.DefaultEngine with { MaxNumSeqs = 1 };
        await using var t = await TestServer.StartAsync(new ServerOptions { MaxNumQueuedReqs = 1 }, engine, TestModels.LoadSlow);
        using var cts = new CancellationTokenSource();
        var running = await t.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(Long) }, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var queued = await t.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(Long) }, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal(2, t.Server.Serving.Admission.InFlight);

        var (status, body, response) = await t.PostJsonAsync("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}""");
        Assert.Equal(429, status);
        Assert.Equal("rate_limit_exceeded", body.GetProperty("error").GetProperty("code").GetString());
        int retryAfter = int.Parse(response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 60);
        Assert.Equal(1, t.Server.Telemetry.Rejections[AdmissionRejection.QueueFull]);

        cts.Cancel();
        running.Dispose();
        queued.Dispose();
        await t.WaitForAllBlocksFreeAsync();
        var (ok, _, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "x", "max_tokens": 1}""");
        Assert.Equal(200, ok);
    }

    [Fact]
    public async Task RequestTimeout_EndsAWholeRequestWith408_AndAStreamWithAnErrorEvent()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new ServerOptions { RequestTimeout = TimeSpan.FromSeconds(5), Time = clock };
        await using var t = await TestServer.StartAsync(options, load: TestModels.LoadSlow);

        var whole = t.PostJsonAsync("/v1/completions", """{"prompt": "slow", "max_tokens": 900, "ignore_eos": true}""");
        await WaitUntil(() => t.Engine.Stats.Running + t.Engine.Stats.Waiting == 1);
        clock.Advance(TimeSpan.FromSeconds(6));
        var (status, body, _) = await whole;
        Assert.Equal(408, status);
        Assert.Equal("request_timeout", body.GetProperty("error").GetProperty("code").GetString());

        var stream = await t.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent("""{"prompt": "slow", "max_tokens": 900, "ignore_eos": true, "stream": true}"""),
        }, HttpCompletionOption.ResponseHeadersRead);
        await WaitUntil(() => t.Engine.Stats.Running + t.Engine.Stats.Waiting == 1);
        clock.Advance(TimeSpan.FromSeconds(6));
        var events = await Sse.ReadAllAsync(stream);
        Assert.True(events.Done);
        Assert.Equal("request_timeout", events.Chunks[^1].GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(2, t.Server.Telemetry.Rejections[AdmissionRejection.Timeout]);
        await t.WaitForAllBlocksFreeAsync();
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (int i = 0; i < 2000 && !condition(); i++)
        {
            await Task.Delay(1);
        }
        Assert.True(condition());
    }
}
