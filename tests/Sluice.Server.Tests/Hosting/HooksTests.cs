using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Sluice.Hosting.Errors;
using Sluice.Server.Observability;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Hosting;

/// <summary>The seams the metrics, logs and traces build on: a route behind the same key check, and one record per request.</summary>
public sealed class HooksTests
{
    private sealed class Scrapes
    {
        public int Count;
    }

    [Fact]
    public async Task HookRoute_SitsBehindTheApiKey_AndSeesTheServersServices()
    {
        var hooks = new ServerHooks
        {
            Services = s => s.AddSingleton<Scrapes>(),
            Routes = r => r.MapGet("/metrics", (HttpContext http, ServerTelemetry telemetry, Scrapes scrapes) =>
                $"served {telemetry.RequestsServed} scrapes {++scrapes.Count}"),
        };
        await using var t = await TestServer.StartAsync(new ServerOptions { ApiKeys = ["sk-m"] }, hooks: hooks);
        await t.PostJsonAsync("/v1/completions", """{"prompt": "x", "max_tokens": 1}""");
        Assert.Equal("served 1 scrapes 1", await t.Client.GetStringAsync("/metrics"));
        t.Client.DefaultRequestHeaders.Authorization = null;
        Assert.Equal(HttpStatusCode.Unauthorized, (await t.Client.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public async Task EveryRequest_PublishesOneRecord_WithItsOutcomeTokensAndTimings()
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { ApiKeys = ["sk-r"] });
        var records = new List<RequestRecord>();
        t.Server.Telemetry.RequestCompleted += r =>
        {
            lock (records)
            {
                records.Add(r);
            }
        };
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": true}"""),
        };
        request.Headers.Add("X-Request-Id", "rec-1");
        await (await t.Client.SendAsync(request)).Content.ReadAsStringAsync();
        t.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "nope");
        await t.PostAsync("/v1/completions", """{"prompt": "x"}""");

        for (int i = 0; i < 100 && records.Count < 2; i++)
        {
            await Task.Delay(10);
        }
        var ok = records.Single(r => r.RequestId == "rec-1");
        Assert.Equal(RequestOutcome.Completed, ok.Outcome);
        Assert.Equal("/v1/chat/completions", ok.Route);
        Assert.True(ok.Stream);
        Assert.Equal(200, ok.StatusCode);
        Assert.Equal(5, ok.CompletionTokens);
        Assert.Equal(["length"], ok.FinishReasons);
        Assert.NotNull(ok.QueueTime);
        Assert.NotNull(ok.PrefillTime);
        Assert.NotNull(ok.TimeToFirstToken);
        Assert.Equal(4, ok.InterTokenLatencies.Count);
        var denied = records.Single(r => r.RequestId != "rec-1");
        Assert.Equal(RequestOutcome.Rejected, denied.Outcome);
        Assert.Equal(AdmissionRejection.Unauthorized, denied.Rejection);
        Assert.Equal(401, denied.StatusCode);
    }
}
