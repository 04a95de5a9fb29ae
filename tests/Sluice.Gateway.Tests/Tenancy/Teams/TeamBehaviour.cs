using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Teams;

/// <summary>
/// Teams enforced through the gateway, on the store a subclass gives (SQLite; PostgreSQL; PostgreSQL + Redis): a request
/// must fit its key's and its team's budget and limits, and call a model both allow. Models m and n are priced 0.000001
/// per prompt token and 0.000003 per completion token on <see cref="FaultyBackend"/>, which reports 1 + 1 tokens: a
/// request with max_tokens 1 costs 0.000004, exactly its reservation.
/// </summary>
public abstract class TeamBehaviour : IAsyncLifetime
{
    private const decimal Cost = 0.000004m;

    private FaultyBackend _backend = null!;
    private TestGateway _gateway = null!;

    /// <summary>tenancy.database for one test: a fresh store.</summary>
    protected abstract Task<string> DatabaseAsync();

    /// <summary>tenancy.redis, or null: counters in the process.</summary>
    protected virtual Task<string?> RedisAsync() => Task.FromResult<string?>(null);

    public async Task InitializeAsync()
    {
        _backend = await FaultyBackend.StartAsync();
        const string Prices = "input_cost_per_token: 0.000001, output_cost_per_token: 0.000003";
        string yaml = $"models:\n  - name: m\n    deployments:\n      - {{url: '{_backend.Url}', model: ok, kind: openai, {Prices}}}\n"
            + $"  - name: n\n    deployments:\n      - {{url: '{_backend.Url}', model: ok, kind: openai, {Prices}}}\n"
            + $"health:\n  interval: 60s\ntenancy:\n  database: '{await DatabaseAsync()}'\n";
        if (await RedisAsync() is { } redis)
        {
            yaml += $"  redis: '{redis}'\n";
        }
        _gateway = await TestGateway.StartAsync(yaml);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _backend.DisposeAsync();
    }

    /// <summary>A team with <paramref name="fields"/> (a JSON object, or empty) and a unique id (one Redis serves several tests); its id.</summary>
    private async Task<string> TeamAsync(string fields)
    {
        string id = "t-" + Guid.NewGuid().ToString("N")[..12];
        var body = fields.Length > 0 ? JsonNode.Parse(fields)!.AsObject() : [];
        body["team_id"] = id;
        using var response = await _gateway.Admin.PostAsync("/team/new", Requests.Json(body.ToJsonString()));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return id;
    }

    private async Task<string> KeyAsync(string? team, string fields = "") =>
        (string)(await Tenants.CreateAsync(_gateway.Admin, "{" + string.Join(", ", new[] { team is null ? null : $"\"team_id\": \"{team}\"", fields.Length > 0 ? fields : null }
            .Where(f => f is not null)) + "}"))["key"]!;

    private async Task<(int Status, JsonNode? Error, HttpResponseMessage Response)> SendAsync(string secret, string model = "m", int maxTokens = 1)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Requests.Json($$"""{"model": "{{model}}", "prompt": "x", "max_tokens": {{maxTokens}}}""") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        var response = await _gateway.Client.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, response.IsSuccessStatusCode ? null : JsonNode.Parse(body)!["error"], response);
    }

    private async Task<int> StatusAsync(string secret, string model = "m")
    {
        var (status, _, response) = await SendAsync(secret, model);
        response.Dispose();
        return status;
    }

    [SkippableFact]
    public async Task TeamBudget_Spent_StopsEveryKeyOfTheTeamAndNoOther()
    {
        string team = await TeamAsync($$"""{"max_budget": {{3 * Cost}}, "budget_duration": "1d"}""");
        string a = await KeyAsync(team);
        string b = await KeyAsync(team);
        string outsider = await KeyAsync("not-a-team"); // a team_id naming no team is a label: no team budget

        var served = new List<int> { await StatusAsync(a), await StatusAsync(b), await StatusAsync(a) };
        Assert.Equal(new List<int> { 200, 200, 200 }, served);
        // spend rows commit from the journal in the background and the reservations settle after: until then the refusal
        // names what is still reserved; a refused request reserves nothing, so asking again until it has settled is harmless
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline; await Task.Delay(20))
        {
            var (_, pending, probe) = await SendAsync(a);
            probe.Dispose();
            if (((string?)pending?["message"])?.Contains("(and 0 reserved", StringComparison.Ordinal) == true)
            {
                break;
            }
        }
        foreach (string secret in new[] { a, b })
        {
            var (status, error, response) = await SendAsync(secret);
            response.Dispose();
            Assert.Equal(400, status);
            Assert.Equal("budget_exceeded", (string)error!["type"]!);
            Assert.Equal("team_budget_exceeded", (string)error["code"]!);
            string message = (string)error["message"]!;
            Assert.Contains($"team {team} spent 0.000012", message, StringComparison.Ordinal);
            Assert.Contains("team max_budget 0.000012", message, StringComparison.Ordinal);
            Assert.Contains("it resets at", message, StringComparison.Ordinal);
        }
        Assert.Equal(200, await StatusAsync(outsider));

        var info = JsonNode.Parse(await _gateway.Admin.GetStringAsync($"/team/info?team_id={team}"))!;
        Assert.Equal(3 * Cost, (decimal)info["team_info"]!["spend"]!);
    }

    [SkippableFact]
    public async Task TeamBudgetZero_RefusesEveryRequestOfItsKeys()
    {
        string team = await TeamAsync("""{"max_budget": 0}""");
        string key = await KeyAsync(team, "\"max_budget\": 100");

        var (status, error, response) = await SendAsync(key);
        response.Dispose();

        Assert.Equal(400, status);
        Assert.Equal("team_budget_exceeded", (string)error!["code"]!);
        Assert.Contains("never resets", (string)error["message"]!, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task KeyMadeBeforeItsTeam_ComesUnderTheTeamWhenItIsCreated()
    {
        string team = "later-" + Guid.NewGuid().ToString("N")[..12];
        string key = await KeyAsync(team); // its team_id names no team yet: a label
        Assert.Equal(200, await StatusAsync(key));

        using (var created = await _gateway.Admin.PostAsync("/team/new", Requests.Json($$"""{"team_id": "{{team}}", "max_budget": 0}""")))
        {
            created.EnsureSuccessStatusCode();
        }
        var (status, error, response) = await SendAsync(key);
        response.Dispose();

        Assert.Equal(400, status);
        Assert.Equal("team_budget_exceeded", (string)error!["code"]!);
    }

    [SkippableFact]
    public async Task KeyBudget_SpentBeforeTheTeams_StillRefuses()
    {
        string team = await TeamAsync("""{"max_budget": 100}""");
        string key = await KeyAsync(team, $"\"max_budget\": {Cost}");

        Assert.Equal(200, await StatusAsync(key));
        var (status, error, response) = await SendAsync(key);
        response.Dispose();

        Assert.Equal(400, status);
        Assert.Equal("budget_exceeded", (string)error!["code"]!); // the key's own budget
    }

    [SkippableFact]
    public async Task TeamRpm_AcrossItsKeys_429WithRetryAfterNamingTheTeam()
    {
        string team = await TeamAsync("""{"rpm_limit": 3}""");
        string a = await KeyAsync(team);
        string b = await KeyAsync(team);

        var served = new List<int> { await StatusAsync(a), await StatusAsync(b), await StatusAsync(a) };
        Assert.Equal(new List<int> { 200, 200, 200 }, served);
        var (status, error, response) = await SendAsync(b);

        Assert.Equal(429, status);
        Assert.Equal("rpm_limit_exceeded", (string)error!["code"]!);
        Assert.Contains($"Team {team} reached its limit of 3 requests per minute", (string)error["message"]!, StringComparison.Ordinal);
        Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        response.Dispose();
        Assert.Equal(200, await StatusAsync(await KeyAsync(null)));
    }

    [SkippableFact]
    public async Task TeamTpm_AcrossItsKeys_429NamingTheTeam_AndAWorstCaseOverItIs400()
    {
        // a request reserves 1 prompt token + max_tokens 10 = 11 and settles to the 2 it used
        string team = await TeamAsync("""{"tpm_limit": 11}""");
        string a = await KeyAsync(team);
        string b = await KeyAsync(team);

        var (first, _, r1) = await SendAsync(a, maxTokens: 10);
        r1.Dispose();
        var (second, error, r2) = await SendAsync(b, maxTokens: 10); // 2 in the window + 11 > 11
        Assert.Equal((200, 429), (first, second));
        Assert.Equal("tpm_limit_exceeded", (string)error!["code"]!);
        Assert.Contains($"Team {team} reached its limit of 11 tokens per minute", (string)error["message"]!, StringComparison.Ordinal);
        Assert.NotNull(r2.Headers.RetryAfter);
        r2.Dispose();

        var (never, tooBig, r3) = await SendAsync(a, maxTokens: 100);
        r3.Dispose();
        Assert.Equal(400, never);
        Assert.Contains($"team {team}'s limit of 11 tokens per minute", (string)tooBig!["message"]!, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task TeamModels_RestrictItsKeys_403NamingTheTeamAndListedOnly()
    {
        string team = await TeamAsync("""{"models": ["m"]}""");
        string key = await KeyAsync(team); // the key itself may call every model

        Assert.Equal(200, await StatusAsync(key, "m"));
        var (status, error, response) = await SendAsync(key, "n");
        response.Dispose();

        Assert.Equal(403, status);
        Assert.Equal("model_not_allowed", (string)error!["code"]!);
        Assert.Contains($"team {team}, which is not allowed to call the model `n`", (string)error["message"]!, StringComparison.Ordinal);

        using var models = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        models.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var listed = await _gateway.Client.SendAsync(models);
        var names = JsonNode.Parse(await listed.Content.ReadAsStringAsync())!["data"]!.AsArray().Select(m => (string)m!["id"]!).ToList();
        Assert.Equal(["m"], names);
    }

    [SkippableFact]
    public async Task TeamBlocked_RefusesItsKeys_UntilUnblocked()
    {
        string team = await TeamAsync("");
        string key = await KeyAsync(team);
        Assert.Equal(200, await StatusAsync(key));

        (await _gateway.Admin.PostAsync("/team/block", Requests.Json($$"""{"team_id": "{{team}}"}"""))).EnsureSuccessStatusCode();
        var (status, error, response) = await SendAsync(key);
        response.Dispose();
        Assert.Equal(401, status);
        Assert.Contains($"team {team}, which is blocked", (string)error!["message"]!, StringComparison.Ordinal);

        (await _gateway.Admin.PostAsync("/team/unblock", Requests.Json($$"""{"team_id": "{{team}}"}"""))).EnsureSuccessStatusCode();
        Assert.Equal(200, await StatusAsync(key));
    }
}
