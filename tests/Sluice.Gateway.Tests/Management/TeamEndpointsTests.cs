using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Management;

/// <summary>The team admin API: LiteLLM's /team/* routes and bodies, field checks, unknown teams, the master key.</summary>
public sealed class TeamEndpointsTests : IAsyncLifetime
{
    private FaultyBackend _backend = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _backend = await FaultyBackend.StartAsync();
        _gateway = await TestGateway.StartAsync(Tenants.Config(_backend.Url, "  fail_mode: closed"));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _backend.DisposeAsync();
    }

    private async Task<(int Status, JsonNode? Body)> CallAsync(HttpMethod method, string path, string? json = null, HttpClient? client = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = json is null ? null : Requests.Json(json) };
        using var response = await (client ?? _gateway.Admin).SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    [Fact]
    public async Task TeamRoutes_LiteLlmBodies_CreateInfoListUpdateBlockDelete()
    {
        var (status, created) = await CallAsync(HttpMethod.Post, "/team/new", """
            {"team_id": "search", "team_alias": "Search", "models": ["demo"], "max_budget": 12.5, "budget_duration": "30d",
             "tpm_limit": 100000, "rpm_limit": 600, "max_parallel_requests": 8, "metadata": {"cost_center": "cc-1"}}
            """);
        Assert.Equal(200, status);
        Assert.Equal(("search", "Search", "30d", "cc-1"), ((string)created!["team_id"]!, (string)created["team_alias"]!, (string)created["budget_duration"]!,
            (string)created["metadata"]!["cost_center"]!));
        Assert.Equal((12.5m, 0m), ((decimal)created["max_budget"]!, (decimal)created["spend"]!));
        Assert.Equal((100000L, 600L, 8L), ((long)created["tpm_limit"]!, (long)created["rpm_limit"]!, (long)created["max_parallel_requests"]!));
        Assert.False((bool)created["blocked"]!);
        Assert.NotNull(created["budget_reset_at"]);

        // a team_id is made when none is given
        var (_, generated) = await CallAsync(HttpMethod.Post, "/team/new", """{"team_alias": "QA Prod Bot", "max_budget": 0.000000001, "budget_duration": "1d"}""");
        Assert.True(Guid.TryParse((string)generated!["team_id"]!, out _));

        var key = await Tenants.CreateAsync(_gateway.Admin, """{"team_id": "search"}""");
        var (infoStatus, info) = await CallAsync(HttpMethod.Get, "/team/info?team_id=search");
        Assert.Equal(200, infoStatus);
        Assert.Equal("search", (string)info!["team_id"]!);
        Assert.Equal("Search", (string)info["team_info"]!["team_alias"]!);
        Assert.Equal((string)key["id"]!, (string)Assert.Single(info["keys"]!.AsArray())!["token"]!);

        var (_, list) = await CallAsync(HttpMethod.Get, "/team/list");
        Assert.Equal(2, list!.AsArray().Count);

        var (updateStatus, updated) = await CallAsync(HttpMethod.Post, "/team/update", """{"team_id": "search", "rpm_limit": null, "models": []}""");
        Assert.Equal(200, updateStatus);
        Assert.Null(updated!["data"]!["rpm_limit"]);
        Assert.Empty(updated["data"]!["models"]!.AsArray());
        Assert.Equal(100000L, (long)updated["data"]!["tpm_limit"]!); // fields not given stay

        var (_, blocked) = await CallAsync(HttpMethod.Post, "/team/block", """{"team_id": "search"}""");
        Assert.True((bool)blocked!["blocked"]!);
        var (_, unblocked) = await CallAsync(HttpMethod.Post, "/team/unblock", """{"team_id": "search"}""");
        Assert.False((bool)unblocked!["blocked"]!);

        // a team with keys stays until they are gone
        var (refused, error) = await CallAsync(HttpMethod.Post, "/team/delete", """{"team_ids": ["search"]}""");
        Assert.Equal(409, refused);
        Assert.Contains((string)key["id"]!, (string)error!["error"]!["message"]!, StringComparison.Ordinal);
        Assert.Equal(200, (await CallAsync(HttpMethod.Delete, $"/admin/keys/{key["id"]}")).Status);
        var (deletedStatus, deleted) = await CallAsync(HttpMethod.Post, "/team/delete", """{"team_ids": ["search"]}""");
        Assert.Equal(200, deletedStatus);
        Assert.Equal("search", (string)Assert.Single(deleted!["deleted_teams"]!.AsArray())!);
        Assert.Equal(404, (await CallAsync(HttpMethod.Get, "/team/info?team_id=search")).Status);
    }

    [Theory]
    [InlineData("""{"team_alias": "a", "colour": "blue", "members_with_roles": []}""", "colour, members_with_roles")]
    [InlineData("""{"max_budget": -1}""", "max_budget must be 0 or more")]
    [InlineData("""{"rpm_limit": 0}""", "rpm_limit must be a whole number of at least 1")]
    [InlineData("""{"tpm_limit": "many"}""", "tpm_limit must be a whole number")]
    [InlineData("""{"budget_duration": "weekly"}""", "budget_duration must be a period")]
    [InlineData("""{"team_id": "has space"}""", "team_id must be")]
    [InlineData("""{"blocked": "yes"}""", "blocked must be true or false")]
    public async Task TeamNew_BadField_Is400NamingIt(string body, string message)
    {
        var (status, error) = await CallAsync(HttpMethod.Post, "/team/new", body);

        Assert.Equal(400, status);
        Assert.Contains(message, (string)error!["error"]!["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TeamNew_ExistingTeamId_Is400NamingIt()
    {
        Assert.Equal(200, (await CallAsync(HttpMethod.Post, "/team/new", """{"team_id": "dup"}""")).Status);

        var (status, error) = await CallAsync(HttpMethod.Post, "/team/new", """{"team_id": "dup", "max_budget": 1}""");

        Assert.Equal(400, status);
        Assert.Equal("team_id", (string)error!["error"]!["param"]!);
        Assert.Contains("dup already exists", (string)error["error"]!["message"]!, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST", "/team/update", """{"team_id": "ghost", "rpm_limit": 5}""")]
    [InlineData("POST", "/team/delete", """{"team_ids": ["ghost"]}""")]
    [InlineData("POST", "/team/block", """{"team_id": "ghost"}""")]
    [InlineData("GET", "/team/info?team_id=ghost", null)]
    public async Task TeamRoutes_UnknownTeam_Are404NamingIt(string method, string path, string? body)
    {
        var (status, error) = await CallAsync(new HttpMethod(method), path, body);

        Assert.Equal(404, status);
        Assert.Equal("team_not_found", (string)error!["error"]!["code"]!);
        Assert.Contains("ghost", (string)error["error"]!["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TeamBudget_OnAGatewayWithoutSpend_Is503Unenforceable()
    {
        // this gateway's models have no prices: it records no spend, so a team budget cannot hold
        Assert.Equal(200, (await CallAsync(HttpMethod.Post, "/team/new", """{"team_id": "capped", "max_budget": 5}""")).Status);
        string secret = (string)(await Tenants.CreateAsync(_gateway.Admin, """{"team_id": "capped"}"""))["key"]!;

        var (status, body) = await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "demo"));

        Assert.Equal(503, status);
        Assert.Contains("budget_unenforceable", body, StringComparison.Ordinal);
        Assert.Contains("Team capped has a budget", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TeamRoutes_WithAVirtualKey_AreRefused()
    {
        string secret = (string)(await Tenants.CreateAsync(_gateway.Admin, "{}"))["key"]!;
        using var client = new HttpClient { BaseAddress = _gateway.BaseUri };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);

        var (status, _) = await CallAsync(HttpMethod.Post, "/team/new", """{"team_id": "mine"}""", client);

        Assert.Equal(403, status);
        Assert.Equal(404, (await CallAsync(HttpMethod.Get, "/team/info?team_id=mine")).Status);
    }
}
