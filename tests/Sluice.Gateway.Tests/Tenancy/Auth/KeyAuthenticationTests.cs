using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Sluice.Gateway.Tenancy.Storage;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Auth;

/// <summary>Virtual keys on one in-process gateway over SQLite (no Redis): authentication, models, limits, logs.</summary>
public sealed class KeyAuthenticationTests : IAsyncLifetime
{
    private FaultyBackend _backend = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _backend = await FaultyBackend.StartAsync();
        _gateway = await TestGateway.StartAsync(Tenants.Config(_backend.Url, "  database: keys.db"));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task VirtualKey_AllowedModel_IsServedAndModelsListOnlyItsOwn()
    {
        var key = await Tenants.CreateAsync(_gateway.Admin, """{"models": ["demo"], "team_id": "search"}""");
        string secret = (string)key["key"]!;

        var (status, body) = await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "demo"));
        Assert.Equal(200, status);
        using var models = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        models.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        var (_, list) = await Tenants.SendAsync(_gateway.Client, models);
        var ids = JsonNode.Parse(list)!["data"]!.AsArray().Select(m => (string)m!["id"]!).ToList();
        Assert.Equal(["demo"], ids);
        Assert.Contains("\"choices\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VirtualKey_ModelNotAllowed_Is403NamingTheModel()
    {
        var key = await Tenants.CreateAsync(_gateway.Admin, """{"models": ["demo"]}""");

        var (status, body) = await Tenants.SendAsync(_gateway.Client, Tenants.Completion((string)key["key"]!, "other"));

        Assert.Equal(403, status);
        Assert.Contains("`other`", body, StringComparison.Ordinal);
        Assert.Contains("model_not_allowed", body, StringComparison.Ordinal);
        Assert.Empty(_backend.Attempts);
    }

    [Theory]
    [InlineData("abc", "starts with 'sk-'")]
    [InlineData("sk-short", "43 base64url characters")]
    [InlineData("sk-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!", "43 base64url characters")]
    public async Task MalformedKey_Is401NamingTheProblem(string presented, string problem)
    {
        var (status, body) = await Tenants.SendAsync(_gateway.Client, Tenants.Completion(presented, "demo"));

        Assert.Equal(401, status);
        Assert.Contains("malformed", body, StringComparison.Ordinal);
        Assert.Contains(problem, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownRevokedAndExpiredKeys_Are401SayingWhich()
    {
        var (status, body) = await Tenants.SendAsync(_gateway.Client, Tenants.Completion("sk-" + new string('A', 43), "demo"));
        Assert.Equal(401, status);
        Assert.Contains("no such key", body, StringComparison.Ordinal);

        var revoked = await Tenants.CreateAsync(_gateway.Admin, "{}");
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion((string)revoked["key"]!, "demo"))).Status);
        using (var revoke = await _gateway.Admin.PostAsync($"/admin/keys/{revoked["id"]}/revoke", null))
        {
            Assert.True(revoke.IsSuccessStatusCode);
        }
        (status, body) = await Tenants.SendAsync(_gateway.Client, Tenants.Completion((string)revoked["key"]!, "demo"));
        Assert.Equal(401, status);
        Assert.Contains("was revoked", body, StringComparison.Ordinal);

        var expired = await Tenants.CreateAsync(_gateway.Admin, """{"expires": "2020-01-01T00:00:00Z"}""");
        (status, body) = await Tenants.SendAsync(_gateway.Client, Tenants.Completion((string)expired["key"]!, "demo"));
        Assert.Equal(401, status);
        Assert.Contains("expired at 2020-01-01", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keys_XApiKeyHeaderMasterKeyAndNoKey_AreAcceptedOrRefusedAsDocumented()
    {
        var key = await Tenants.CreateAsync(_gateway.Admin, "{}");
        using var viaHeader = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Requests.Completion("demo") };
        viaHeader.Headers.Add("x-api-key", (string)key["key"]!);
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, viaHeader)).Status);
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(TestGateway.MasterKey, "other"))).Status);

        var (status, body) = await Tenants.SendAsync(_gateway.Client, new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Requests.Completion("demo") });
        Assert.Equal(401, status);
        Assert.Contains("Missing API key", body, StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await _gateway.Client.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task Rotate_WithGrace_BothSecretsWork_WithoutGrace_TheOldStops()
    {
        var key = await Tenants.CreateAsync(_gateway.Admin, "{}");
        string first = (string)key["key"]!;

        using var rotate = await _gateway.Admin.PostAsync($"/admin/keys/{key["id"]}/rotate", Requests.Json("""{"grace_period": "1h"}"""));
        string second = (string)JsonNode.Parse(await rotate.Content.ReadAsStringAsync())!["key"]!;
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(first, "demo"))).Status);
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(second, "demo"))).Status);

        using var again = await _gateway.Admin.PostAsync($"/admin/keys/{key["id"]}/rotate", null);
        string third = (string)JsonNode.Parse(await again.Content.ReadAsStringAsync())!["key"]!;
        Assert.Equal(401, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(second, "demo"))).Status);
        Assert.Equal(401, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(first, "demo"))).Status);
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(third, "demo"))).Status);
    }

    [Fact]
    public async Task RpmLimit_OverTheLimit_Is429WithRetryAfterNamingTheLimit()
    {
        var key = await Tenants.CreateAsync(_gateway.Admin, """{"rpm_limit": 3}""");
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion((string)key["key"]!, "demo"))).Status);
        }

        using var response = await _gateway.Client.SendAsync(Tenants.Completion((string)key["key"]!, "demo"));

        Assert.Equal(429, (int)response.StatusCode);
        int retryAfter = int.Parse(response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 60);
        Assert.Contains("rpm_limit", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ParallelLimit_SecondRequestWhileOneRuns_Is429NamingTheLimit()
    {
        var key = await Tenants.CreateAsync(_gateway.Admin, """{"max_parallel_requests": 1}""");
        string secret = (string)key["key"]!;
        var slow = Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "slow"));
        await Task.Delay(100);

        var (status, body) = await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "demo"));

        Assert.Equal(429, status);
        Assert.Contains("max_parallel_requests", body, StringComparison.Ordinal);
        Assert.Equal(200, (await slow).Status);
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "demo"))).Status);
    }

    [Fact]
    public async Task RequestLog_CarriesKeyIdAndTeam_NeverTheSecret()
    {
        var key = await Tenants.CreateAsync(_gateway.Admin, """{"team_id": "team-blue"}""");
        string secret = (string)key["key"]!;
        await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "demo"));
        await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "nonexistent"));

        var lines = _gateway.Logs.Lines;
        Assert.Contains(lines, l => l.Contains($"key={key["id"]} team=team-blue", StringComparison.Ordinal) && l.Contains(" 200 ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains($"key={key["id"]}", StringComparison.Ordinal) && l.Contains(" 404 ", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains(secret, StringComparison.Ordinal) || l.Contains(secret[3..], StringComparison.Ordinal));
    }

    [Fact]
    public async Task CorruptSqliteFile_AtStart_IsAnErrorNamingTheFile()
    {
        string folder = Directory.CreateTempSubdirectory("sluice-corrupt-").FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "bad.db"), "this is not a database, it is text long enough to have a header of 100 bytes...........................");
        await File.WriteAllTextAsync(Path.Combine(folder, "gateway.yaml"), Tenants.Config(_backend.Url, "  database: bad.db"));

        var error = Assert.Throws<TenancyStoreException>(() => SluiceGateway.Create(new GatewayOptions { ConfigPath = Path.Combine(folder, "gateway.yaml") }));

        Assert.Contains(Path.Combine(folder, "bad.db"), error.Message, StringComparison.Ordinal);
        Assert.Contains("not a SQLite database", error.Message, StringComparison.Ordinal);
        Directory.Delete(folder, recursive: true);
    }
}
