using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Requests;
using Sluice.OpenAi;

namespace Sluice.Hosting.Tests;

/// <summary>The hosting layer on a bare ASP.NET Core app, as the gateway will use it: no engine, no server.</summary>
public sealed class SluiceHostingExtensionsTests
{
    private sealed class Ended : IRequestErrorObserver
    {
        public List<(int Status, RequestOutcome Outcome, AdmissionRejection? Reason, string Route)> Requests { get; } = [];

        public void RequestEnded(HttpContext context, int status, RequestOutcome outcome, AdmissionRejection? reason, string message)
        {
            lock (Requests)
            {
                Requests.Add((status, outcome, reason, RequestInfo.Route(context)));
            }
        }
    }

    private static async Task<(WebApplication App, HttpClient Client, Ended Ended)> StartAsync(SluiceHostingOptions options)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var ended = new Ended();
        builder.Services.AddSingleton<IRequestErrorObserver>(ended);
        builder.Services.AddSluiceHosting(options with { Host = "127.0.0.1", Port = 0 });
        var app = builder.Build();
        app.UseSluiceHosting();
        app.MapGet("/health", () => "ok");
        app.MapGet("/hello", (HttpContext http) => RequestInfo.Id(http));
        app.MapPost("/echo", async (HttpContext http) =>
        {
            var body = await JsonBody.ReadAsync(http, options.MaxRequestBodySize, OpenAiJson.Default.PredictRequestBody);
            return body.Text ?? throw ApiException.BadRequest("'text' is required.", "text");
        });
        app.MapGet("/boom", string () => throw new InvalidOperationException("kaput"));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new HttpClient { BaseAddress = new Uri(address) }, ended);
    }

    [Fact]
    public async Task UseSluiceHosting_WithAKey_GuardsEveryRouteButTheOpenOnes_AndEchoesTheRequestId()
    {
        var (app, client, ended) = await StartAsync(new SluiceHostingOptions { ApiKeys = ["sk-1"] });
        await using var _ = app;
        using var __ = client;
        Assert.Equal("ok", await client.GetStringAsync("/health"));
        var denied = await client.GetAsync("/hello");
        Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
        Assert.Equal("Bearer", denied.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Contains("invalid_api_key", await denied.Content.ReadAsStringAsync());

        var request = new HttpRequestMessage(HttpMethod.Get, "/hello");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk-1");
        request.Headers.Add(RequestInfo.Header, "gw-7");
        var ok = await client.SendAsync(request);
        Assert.Equal("gw-7", await ok.Content.ReadAsStringAsync());
        Assert.Equal("gw-7", ok.Headers.GetValues(RequestInfo.Header).Single());
        Assert.Equal([(401, RequestOutcome.Rejected, AdmissionRejection.Unauthorized, "/hello")], ended.Requests);
    }

    [Fact]
    public async Task UseSluiceHosting_ErrorsAndFaults_AreOpenAiErrorBodies()
    {
        var (app, client, ended) = await StartAsync(new SluiceHostingOptions { MaxRequestBodySize = 64 });
        await using var _ = app;
        using var __ = client;
        var bad = await client.PostAsync("/echo", new StringContent("""{"model": "m"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("""{"error":{"message":"'text' is required.","type":"invalid_request_error","param":"text","code":null}}""", await bad.Content.ReadAsStringAsync());

        var large = await client.PostAsync("/echo", new StringContent($$"""{"text": "{{new string('x', 100)}}"}"""));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, large.StatusCode);

        var fault = await client.GetAsync("/boom");
        Assert.Equal(HttpStatusCode.InternalServerError, fault.StatusCode);
        using var doc = JsonDocument.Parse(await fault.Content.ReadAsStringAsync());
        Assert.Equal("internal_error", doc.RootElement.GetProperty("error").GetProperty("code").GetString());
        var fine = await client.PostAsync("/echo", new StringContent("""{"text": "OK"}"""));
        Assert.Equal("OK", await fine.Content.ReadAsStringAsync());

        Assert.Equal(
            [(400, RequestOutcome.Rejected, AdmissionRejection.InvalidRequest, "/echo"), (413, RequestOutcome.Rejected, AdmissionRejection.BodyTooLarge, "/echo"),
                (500, RequestOutcome.Failed, null, "/boom")],
            ended.Requests.Select(r => (r.Status, r.Outcome, r.Reason, r.Route)));
    }

    [Fact]
    public void AddSluiceHosting_CertificateWithoutKey_IsRefused()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddSluiceHosting(new SluiceHostingOptions { SslCertFile = "c.pem" }));
        Assert.Contains("--ssl-keyfile", ex.Message);
    }
}
