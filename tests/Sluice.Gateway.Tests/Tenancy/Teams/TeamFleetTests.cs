using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text.Json;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Teams;

/// <summary>
/// A team's budget and rate limit through two `sluice gateway` processes sharing PostgreSQL and Redis, under concurrent
/// load from several of its keys: the team's counters are fleet-wide, so its budget overshoots by at most one request's
/// reservation and its rpm holds within 1%. A request costs 0.000004, exactly its reservation (see TeamBehaviour).
/// </summary>
[Collection(TenancyCollection.Name)]
public sealed class TeamFleetTests(TenancyServers servers) : IAsyncLifetime
{
    private const decimal Cost = 0.000004m;

    private FaultyBackend _backend = null!;
    private string _config = "";

    public async Task InitializeAsync()
    {
        _backend = await FaultyBackend.StartAsync();
        _config = Path.GetTempFileName();
        string yaml = $"models:\n  - name: m\n    deployments:\n      - {{url: '{_backend.Url}', model: ok, kind: openai, "
            + "input_cost_per_token: 0.000001, output_cost_per_token: 0.000003}\nhealth:\n  interval: 60s\n"
            + $"tenancy:\n  database: \"{await (await servers.PostgresAsync()).CreateDatabaseAsync()}\"\n  redis: \"{(await servers.RedisAsync()).ConnectionString}\"\n";
        await File.WriteAllTextAsync(_config, yaml);
    }

    public async Task DisposeAsync()
    {
        await _backend.DisposeAsync();
        File.Delete(_config);
    }

    private static async Task<int> SendAsync(GatewayProcess gateway, string secret, string requestId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Requests.Json("""{"model": "m", "prompt": "x", "max_tokens": 1}""") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        request.Headers.Add("X-Request-Id", requestId);
        using var response = await gateway.Client.SendAsync(request);
        return (int)response.StatusCode;
    }

    /// <summary>A team with <paramref name="fields"/> and three keys in it, made through <paramref name="admin"/>.</summary>
    private static async Task<(string Team, List<(string Id, string Secret)> Keys)> TeamAsync(GatewayProcess admin, string fields)
    {
        string team = "fleet-" + Guid.NewGuid().ToString("N")[..12];
        using (var created = await admin.Admin.PostAsync("/team/new", Requests.Json($$"""{"team_id": "{{team}}", {{fields}}}""")))
        {
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }
        var keys = new List<(string, string)>();
        for (int i = 0; i < 3; i++)
        {
            var key = await Tenants.CreateAsync(admin.Admin, $$"""{"team_id": "{{team}}"}""");
            keys.Add(((string)key["id"]!, (string)key["key"]!));
        }
        return (team, keys);
    }

    /// <summary>Every key sends <paramref name="perKey"/> requests, alternating gateways, 24 at once; the statuses.</summary>
    private static async Task<List<int>> LoadAsync(GatewayProcess a, GatewayProcess b, List<(string Id, string Secret)> keys, int perKey, string tag)
    {
        var statuses = new ConcurrentBag<int>();
        var work = Enumerable.Range(0, perKey).SelectMany(i => keys.Select(k => (i, k))).ToList();
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = 24 }, async (item, _) =>
            statuses.Add(await SendAsync(item.i % 2 == 0 ? a : b, item.k.Secret, $"{tag}-{item.k.Id}-{item.i}")));
        return [.. statuses];
    }

    [SkippableFact]
    public async Task TeamBudgetAndRpm_ThreeKeysThroughTwoGateways_BudgetOvershootsByAtMostOneRequestAndRpmHolds()
    {
        await using var a = await GatewayProcess.StartAsync(_config);
        await using var b = await GatewayProcess.StartAsync(_config);

        // the budget: 25 requests' worth, 120 sent
        const decimal Budget = 0.0001m;
        var (budgetTeam, budgetKeys) = await TeamAsync(a, $"\"max_budget\": {Budget}, \"budget_duration\": \"30d\"");
        var statuses = await LoadAsync(a, b, budgetKeys, 40, "budget");
        Assert.All(statuses, s => Assert.True(s is 200 or 400, $"status {s}"));
        int served = statuses.Count(s => s == 200);
        Assert.InRange(served, 25, 26); // one more may pass fleet-wide, never two
        var rows = new List<JsonElement>();
        foreach (var (id, _) in budgetKeys)
        {
            rows.AddRange(JsonDocument.Parse(await b.Admin.GetStringAsync($"/spend/logs?api_key={id}")).RootElement.EnumerateArray());
        }
        Assert.Equal(120, rows.Count);
        Assert.All(rows, r => Assert.Equal(budgetTeam, r.GetProperty("team_id").GetString()));
        decimal spent = rows.Sum(r => r.GetProperty("spend").GetDecimal());
        Assert.Equal(served * Cost, spent);
        var info = JsonDocument.Parse(await b.Admin.GetStringAsync($"/team/info?team_id={budgetTeam}")).RootElement;
        Assert.Equal(spent, info.GetProperty("team_info").GetProperty("spend").GetDecimal());

        // the rate: 100 a minute, 150 sent within it
        var (_, rpmKeys) = await TeamAsync(a, "\"rpm_limit\": 100");
        statuses = await LoadAsync(a, b, rpmKeys, 50, "rpm");
        Assert.All(statuses, s => Assert.True(s is 200 or 429, $"status {s}"));
        Assert.InRange(statuses.Count(s => s == 200), 99, 101);
        Assert.False(a.Exited || b.Exited);
    }
}
