using System.Net;
using System.Net.Http.Headers;
using Sluice.Hosting.Errors;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Hosting;

/// <summary>The server behind the hosting layer's API key check (the key store itself: Sluice.Hosting.Tests/Auth).</summary>
public sealed class ApiKeyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-keys-").FullName;

    private static HttpRequestMessage Get(string path, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key != null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return request;
    }

    [Fact]
    public async Task WithAKey_EveryRouteButTheProbesNeedsIt()
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { ApiKeys = ["sk-right"] });
        t.Client.DefaultRequestHeaders.Authorization = null;
        foreach (var path in new[] { "/v1/models", "/version", "/metrics", "/debug/anything" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await t.Client.SendAsync(Get(path, null))).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await t.Client.SendAsync(Get(path, "sk-wrong"))).StatusCode);
        }
        var post = new HttpRequestMessage(HttpMethod.Post, "/admin/warmup") { Content = new StringContent("{}") };
        var denied = await t.Client.SendAsync(post);
        Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
        Assert.Equal("Bearer", denied.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Contains("invalid_api_key", await denied.Content.ReadAsStringAsync());

        foreach (var probe in new[] { "/health", "/health/live", "/health/ready", "/health/liveness", "/health/readiness" })
        {
            Assert.Equal(HttpStatusCode.OK, (await t.Client.SendAsync(Get(probe, null))).StatusCode);
        }
        Assert.Equal(HttpStatusCode.OK, (await t.Client.SendAsync(Get("/v1/models", "sk-right"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await t.Client.SendAsync(Get("/v1/models", "sk-righ"))).StatusCode);
        Assert.Equal(10, t.Server.Telemetry.Rejections[AdmissionRejection.Unauthorized]);
    }

    [Fact]
    public async Task KeyFile_RewrittenWithANewKey_AcceptsTheNewKeyWithoutRestart_AndTheOldDuringTheGracePeriod()
    {
        string file = Path.Combine(_dir, "keys.txt");
        await File.WriteAllTextAsync(file, "# team keys\nsk-old\n");
        await using var t = await TestServer.StartAsync(new ServerOptions { ApiKeyFile = file, ApiKeyGracePeriod = TimeSpan.FromMinutes(1) });
        Assert.Equal(HttpStatusCode.OK, (await t.Client.SendAsync(Get("/v1/models", "sk-old"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await t.Client.SendAsync(Get("/v1/models", "sk-new"))).StatusCode);

        await File.WriteAllTextAsync(file, "sk-new\n");
        HttpStatusCode status = HttpStatusCode.Unauthorized;
        for (int i = 0; i < 60 && status != HttpStatusCode.OK; i++)
        {
            await Task.Delay(100); // the file is looked at once a second at most
            status = (await t.Client.SendAsync(Get("/v1/models", "sk-new"))).StatusCode;
        }
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.OK, (await t.Client.SendAsync(Get("/v1/models", "sk-old"))).StatusCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task EmptyOrBlankApiKey_IsAStartUpErrorNamingTheFlag_NotAServerWithoutAuth(string key)
    {
        var start = await Assert.ThrowsAsync<ArgumentException>(() => TestServer.StartAsync(new ServerOptions { ApiKeys = [key] }));
        Assert.Contains("--api-key", start.Message);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
