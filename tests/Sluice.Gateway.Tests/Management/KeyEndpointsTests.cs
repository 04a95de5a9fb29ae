using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Management;

/// <summary>The key admin API: its own routes and LiteLLM's, field checks, the master key.</summary>
public sealed class KeyEndpointsTests : IAsyncLifetime
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

    private async Task<(int Status, JsonNode? Body)> CallAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = json is null ? null : Requests.Json(json) };
        using var response = await _gateway.Admin.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    [Fact]
    public async Task AdminKeys_CreateListShowPatchDelete_RoundTripEveryField()
    {
        var (status, created) = await CallAsync(HttpMethod.Post, "/admin/keys", """
            {"key_alias": "app", "team_id": "t1", "user_id": "u1", "models": ["demo"], "rpm_limit": 10, "tpm_limit": 1000,
             "max_parallel_requests": 2, "max_budget": 0, "max_budget_tokens": 500, "budget_duration": "1mo", "metadata": {"env": "prod"}, "duration": "30d"}
            """);
        Assert.Equal(200, status);
        string id = (string)created!["id"]!;
        Assert.StartsWith("sk-", (string)created["key"]!, StringComparison.Ordinal);
        Assert.Equal(0m, (decimal)created["max_budget"]!);
        Assert.Equal(0m, (decimal)created["spend"]!);

        var (_, shown) = await CallAsync(HttpMethod.Get, $"/admin/keys/{id}");
        Assert.Null(shown!["key"]);
        Assert.Equal(("app", "t1", "u1", "1mo", "prod"), ((string)shown["key_alias"]!, (string)shown["team_id"]!, (string)shown["user_id"]!,
            (string)shown["budget_duration"]!, (string)shown["metadata"]!["env"]!));
        Assert.Equal((10L, 1000L, 2L, 500L), ((long)shown["rpm_limit"]!, (long)shown["tpm_limit"]!, (long)shown["max_parallel_requests"]!, (long)shown["max_budget_tokens"]!));
        Assert.NotNull(shown["expires"]);

        var (patched, updated) = await CallAsync(HttpMethod.Patch, $"/admin/keys/{id}", """{"rpm_limit": null, "models": ["demo", "other"]}""");
        Assert.Equal(200, patched);
        Assert.Null(updated!["rpm_limit"]);
        Assert.Equal(2, updated["models"]!.AsArray().Count);

        var (_, list) = await CallAsync(HttpMethod.Get, "/admin/keys");
        Assert.Contains(list!["keys"]!.AsArray(), k => (string)k!["id"]! == id);
        Assert.DoesNotContain("sk-", list.ToJsonString(), StringComparison.Ordinal);

        Assert.Equal(200, (await CallAsync(HttpMethod.Delete, $"/admin/keys/{id}")).Status);
        Assert.Equal(404, (await CallAsync(HttpMethod.Get, $"/admin/keys/{id}")).Status);
    }

    [Theory]
    [InlineData("""{"rpm_limit": 10, "colour": "blue", "size": 1}""", "colour, size")]
    [InlineData("""{"max_budget": -1}""", "max_budget must be 0 or more")]
    [InlineData("""{"rpm_limit": 1.5}""", "rpm_limit must be a whole number")]
    [InlineData("""{"budget_duration": "weekly"}""", "budget_duration must be a period")]
    [InlineData("""{"duration": "30d", "expires": "2030-01-01T00:00:00Z"}""", "not both")]
    [InlineData("""{"models": "demo"}""", "models must be a list")]
    [InlineData("""{"metadata": {"n": 1}}""", "metadata.n must be a string")]
    public async Task Create_BadField_Is400NamingIt(string body, string message)
    {
        var (status, error) = await CallAsync(HttpMethod.Post, "/admin/keys", body);

        Assert.Equal(400, status);
        Assert.Contains(message, (string)error!["error"]!["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LiteLlmRoutes_GenerateInfoUpdateDelete_WorkWithItsFieldNames()
    {
        var (status, generated) = await CallAsync(HttpMethod.Post, "/key/generate", """{"models": ["demo"], "max_budget": 10.5, "key_alias": "ll"}""");
        Assert.Equal(200, status);
        string secret = (string)generated!["key"]!;

        var (_, info) = await CallAsync(HttpMethod.Get, "/key/info?key=" + secret);
        Assert.Equal("ll", (string)info!["info"]!["key_alias"]!);
        Assert.Equal(10.5m, (decimal)info["info"]!["max_budget"]!);
        Assert.Equal(0m, (decimal)info["info"]!["spend"]!);

        var (updateStatus, updated) = await CallAsync(HttpMethod.Post, "/key/update", $$"""{"key": "{{secret}}", "rpm_limit": 5}""");
        Assert.Equal(200, updateStatus);
        Assert.Equal(5L, (long)updated!["rpm_limit"]!);
        Assert.Equal(400, (await CallAsync(HttpMethod.Post, "/key/update", $$"""{"key": "{{secret}}", "rpm": 5}""")).Status);

        var (deleteStatus, deleted) = await CallAsync(HttpMethod.Post, "/key/delete", $$"""{"keys": ["{{secret}}"]}""");
        Assert.Equal(200, deleteStatus);
        Assert.Equal((string)generated["id"]!, (string)deleted!["deleted_keys"]![0]!);
        Assert.Equal(401, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "demo"))).Status);
    }

    [Fact]
    public async Task KeyRegenerate_BodyOrPath_GivesTheSameKeyIdANewSecret_TheOldStopsAtOnce()
    {
        var key = await Tenants.CreateAsync(_gateway.Admin, """{"tpm_limit": 1000, "key_alias": "app"}""");
        string id = (string)key["id"]!, first = (string)key["key"]!;

        var (status, regenerated) = await CallAsync(HttpMethod.Post, "/key/regenerate", $$"""{"key": "{{first}}", "tpm_limit": 2000}""");
        Assert.Equal(200, status);
        string second = (string)regenerated!["key"]!;
        Assert.Equal(id, (string)regenerated["id"]!);
        Assert.Equal(id, (string)regenerated["token"]!);
        Assert.Equal(2000L, (long)regenerated["tpm_limit"]!); // fields given with it are applied, as LiteLLM does
        Assert.Equal("app", (string)regenerated["key_alias"]!);
        Assert.NotEqual(first, second);
        Assert.Equal(401, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(first, "demo"))).Status);
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(second, "demo"))).Status);

        var (pathStatus, again) = await CallAsync(HttpMethod.Post, $"/key/{id}/regenerate", """{"grace_period": "1h"}""");
        Assert.Equal(200, pathStatus);
        Assert.NotNull(again!["previous_key_valid_until"]);
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(second, "demo"))).Status); // in its grace period
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion((string)again["key"]!, "demo"))).Status);
    }

    [Theory]
    [InlineData("/key/regenerate", "{}", "key is required")]
    [InlineData("/key/regenerate", """{"key": "key_0000000000000000"}""", "No key 'key_0000000000000000'")]
    [InlineData("/key/regenerate", """{"key": "ID", "new_master_key": "sk-x"}""", "Unknown field: new_master_key")]
    [InlineData("/key/regenerate", """{"key": "ID", "grace_period": "soon"}""", "grace_period must be a duration")]
    [InlineData("/key/block", "{}", "key is required")]
    [InlineData("/key/block", """{"key": "ID", "reason": "leak"}""", "Unknown field: reason")]
    [InlineData("/key/unblock", """{"key": "sk-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}""", "No key has this secret")]
    public async Task KeyRegenerateAndBlock_BadBody_AreClearErrors(string path, string body, string message)
    {
        var key = await Tenants.CreateAsync(_gateway.Admin, "{}");

        var (status, error) = await CallAsync(HttpMethod.Post, path, body.Replace("ID", (string)key["id"]!, StringComparison.Ordinal));

        Assert.InRange(status, 400, 404);
        Assert.Contains(message, (string)error!["error"]!["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyBlockThenUnblock_RefusesTheKeyAsBlockedThenServesItAgain()
    {
        var key = await Tenants.CreateAsync(_gateway.Admin, "{}");
        string secret = (string)key["key"]!;
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "demo"))).Status);

        var (status, blocked) = await CallAsync(HttpMethod.Post, "/key/block", $$"""{"key": "{{secret}}"}""");
        Assert.Equal(200, status);
        Assert.True((bool)blocked!["blocked"]!);
        Assert.NotNull(blocked["blocked_at"]);
        var (refused, body) = await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "demo"));
        Assert.Equal(401, refused);
        Assert.Contains("is blocked", body, StringComparison.Ordinal);
        Assert.True((bool)(await CallAsync(HttpMethod.Get, "/key/info?key=" + key["id"])).Body!["info"]!["blocked"]!);
        Assert.Contains("sluice_gateway_key_rejections_total{reason=\"blocked\"} 1", await _gateway.Admin.GetStringAsync("/metrics"), StringComparison.Ordinal);

        var (unblockStatus, unblocked) = await CallAsync(HttpMethod.Post, "/key/unblock", $$"""{"key": "{{key["id"]}}"}""");
        Assert.Equal(200, unblockStatus);
        Assert.False((bool)unblocked!["blocked"]!);
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "demo"))).Status);

        var (updateStatus, viaUpdate) = await CallAsync(HttpMethod.Post, "/key/update", $$"""{"key": "{{secret}}", "blocked": true, "rpm_limit": 50}""");
        Assert.Equal(200, updateStatus);
        Assert.True((bool)viaUpdate!["blocked"]!);
        Assert.Equal(50L, (long)viaUpdate["rpm_limit"]!);
        Assert.Equal(401, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "demo"))).Status);
        var (badStatus, bad) = await CallAsync(HttpMethod.Patch, $"/admin/keys/{key["id"]}", """{"blocked": "yes", "rpm_limit": 60}""");
        Assert.Equal(400, badStatus);
        Assert.Contains("blocked must be true or false", (string)bad!["error"]!["message"]!, StringComparison.Ordinal);
        Assert.Equal(50L, (long)(await CallAsync(HttpMethod.Get, $"/admin/keys/{key["id"]}")).Body!["rpm_limit"]!); // nothing written
        Assert.Equal(200, (await CallAsync(HttpMethod.Patch, $"/admin/keys/{key["id"]}", """{"blocked": false}""")).Status);
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "demo"))).Status);

        Assert.Equal(200, (await CallAsync(HttpMethod.Post, $"/admin/keys/{key["id"]}/block")).Status);
        Assert.Equal(401, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "demo"))).Status);
        Assert.Equal(200, (await CallAsync(HttpMethod.Post, $"/admin/keys/{key["id"]}/unblock")).Status);
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "demo"))).Status);
    }

    [Fact]
    public async Task KeyRoutes_WrongMasterKeyOrAVirtualKey_Are403()
    {
        var key = await Tenants.CreateAsync(_gateway.Admin, "{}");
        foreach (string presented in new[] { "wrong-master", (string)key["key"]! })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/admin/keys");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", presented);
            using var response = await _gateway.Client.SendAsync(request);
            Assert.Equal(403, (int)response.StatusCode);
            Assert.Contains("master key", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }
}
