using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using Sluice.Gateway.Tenancy;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Spend;

/// <summary>
/// Budgets and spend through real `sluice gateway` processes on a priced model (0.000001 per prompt token, 0.000003 per
/// completion token; <see cref="FaultyBackend"/> reports 1 + 1 tokens, so a request costs 0.000004, exactly its
/// reservation): two gateways sharing PostgreSQL and Redis hold each key's budget fleet-wide; with the database or
/// Redis stopped mid-load, the fail mode decides, and no spend row is lost.
/// </summary>
[Collection(TenancyCollection.Name)]
public sealed class BudgetFleetTests(TenancyServers servers) : IAsyncLifetime
{
    private const decimal Cost = 0.000004m;

    private FaultyBackend _backend = null!;
    private readonly List<string> _files = [];

    public async Task InitializeAsync() => _backend = await FaultyBackend.StartAsync();

    public async Task DisposeAsync()
    {
        await _backend.DisposeAsync();
        foreach (string file in _files)
        {
            File.Delete(file);
        }
    }

    private async Task<string> ConfigAsync(string database, string? redis, string failMode)
    {
        string config = Path.GetTempFileName();
        _files.Add(config);
        string yaml = $"models:\n  - name: m\n    deployments:\n      - {{url: '{_backend.Url}', model: ok, kind: openai, "
            + "input_cost_per_token: 0.000001, output_cost_per_token: 0.000003}\nhealth:\n  interval: 60s\n"
            + $"tenancy:\n  database: \"{database}\"\n  fail_mode: {failMode}\n" + (redis is null ? "" : $"  redis: \"{redis}\"\n");
        await File.WriteAllTextAsync(config, yaml);
        return config;
    }

    private static async Task<(int Status, string Body)> SendAsync(GatewayProcess gateway, string secret, string requestId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Requests.Json("""{"model": "m", "prompt": "x", "max_tokens": 1}""") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        request.Headers.Add("X-Request-Id", requestId);
        using var response = await gateway.Client.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<List<JsonElement>> RowsAsync(GatewayProcess gateway, string query)
    {
        string body = await gateway.Admin.GetStringAsync("/spend/logs?" + query);
        return [.. JsonDocument.Parse(body).RootElement.EnumerateArray()];
    }

    [SkippableFact]
    public async Task MoneyBudgets_SeveralKeysUnderLoadThroughTwoGateways_OvershootByAtMostOneRequestAndSpendIsExact()
    {
        string config = await ConfigAsync(await (await servers.PostgresAsync()).CreateDatabaseAsync(), (await servers.RedisAsync()).ConnectionString, "closed");
        await using var a = await GatewayProcess.StartAsync(config);
        await using var b = await GatewayProcess.StartAsync(config);
        const decimal Budget = 0.0001m; // 25 requests
        var keys = new List<(string Id, string Secret)>();
        for (int i = 0; i < 3; i++)
        {
            var key = await Tenants.CreateAsync(a.Admin, $$"""{"max_budget": {{Budget}}, "budget_duration": "30d"}""");
            keys.Add(((string)key["id"]!, (string)key["key"]!));
        }
        var statuses = new ConcurrentDictionary<string, ConcurrentBag<int>>();
        var work = Enumerable.Range(0, 60).SelectMany(i => keys.Select(k => (i, k))).ToList();
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = 24 }, async (item, _) =>
        {
            var (status, _) = await SendAsync(item.i % 2 == 0 ? a : b, item.k.Secret, $"fleet-{item.k.Id}-{item.i}");
            statuses.GetOrAdd(item.k.Id, _ => []).Add(status);
        });

        foreach (var (id, _) in keys)
        {
            var seen = statuses[id];
            Assert.All(seen, s => Assert.True(s is 200 or 400, $"status {s}"));
            int served = seen.Count(s => s == 200);
            // every reservation is the request's real cost: 25 fit the budget; the fleet may let one more through, never two
            Assert.InRange(served, 25, 26);
            // each gateway commits its journaled rows in the background; a spend query waits for its own gateway's, so
            // asking a first makes b's answer hold both gateways' rows
            await RowsAsync(a, $"api_key={id}");
            var rows = await RowsAsync(b, $"api_key={id}");
            Assert.Equal(60, rows.Count);
            var billed = rows.Where(r => r.GetProperty("status").GetInt32() == 200).ToList();
            Assert.Equal(served, billed.Count);
            Assert.All(billed, r =>
            {
                Assert.Equal(1, r.GetProperty("prompt_tokens").GetInt64());
                Assert.Equal(1, r.GetProperty("completion_tokens").GetInt64());
                Assert.Equal(Cost, r.GetProperty("spend").GetDecimal());
            });
            decimal spent = rows.Sum(r => r.GetProperty("spend").GetDecimal());
            Assert.Equal(served * Cost, spent);
            Assert.True(spent <= Budget + Cost, $"{id} spent {spent} of {Budget}");
        }
        Assert.False(a.Exited || b.Exited);
    }

    [SkippableTheory]
    [InlineData("open")]
    [InlineData("closed")]
    public async Task PostgresStoppedMidLoad_FollowsTheFailMode_AndEveryRowIsWrittenOnceItIsBack(string failMode)
    {
        await using var postgres = await PostgresServer.StartNewAsync();
        string config = await ConfigAsync(await postgres.CreateDatabaseAsync(), null, failMode);
        await using var gateway = await GatewayProcess.StartAsync(config);
        var key = await Tenants.CreateAsync(gateway.Admin, """{"max_budget": 1000}""");
        string secret = (string)key["key"]!;
        Assert.Equal(200, (await SendAsync(gateway, secret, "before")).Status); // its budget counter seeded
        await Task.Delay(600); // past the poll that saw the key's creation (and cleared the key cache)
        Assert.Equal(200, (await SendAsync(gateway, secret, "before-2")).Status); // the key cached

        postgres.Stop();
        await Task.Delay(500); // its backends (the pooled connections' ends) gone too
        var during = new List<(string Id, int Status, string Body)>();
        // the master key needs no key store, so what answers is the spend log's fail mode alone
        string secretNow = failMode == "closed" ? TestGateway.MasterKey : secret;
        if (failMode == "closed")
        {
            // rows go to the spend journal and commit in the background: requests answered before the writer finds the
            // database gone are served (and billed, from the journal); from then on every request is refused
            var until = Stopwatch.StartNew();
            while ((during.Count == 0 || during[^1].Status != 503) && until.Elapsed < TimeSpan.FromSeconds(20))
            {
                var (status, body) = await SendAsync(gateway, secretNow, $"during-{during.Count}");
                during.Add(($"during-{during.Count}", status, body));
                await Task.Delay(20);
            }
        }
        for (int i = 0; i < 8; i++)
        {
            var (status, body) = await SendAsync(gateway, secretNow, $"during-{during.Count}");
            during.Add(($"during-{during.Count}", status, body));
        }
        string metrics = await gateway.Admin.GetStringAsync("/metrics");
        var waited = Stopwatch.StartNew();
        while (!metrics.Contains("sluice_gateway_spend_writes_total{result=\"retained\"}", StringComparison.Ordinal) && waited.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(100);
            metrics = await gateway.Admin.GetStringAsync("/metrics");
        }
        Assert.Contains($"sluice_gateway_tenancy_store_errors_total{{store=\"database\",fail_mode=\"{failMode}\"}}", metrics, StringComparison.Ordinal);
        Assert.True(metrics.Contains("sluice_gateway_spend_writes_total{result=\"retained\"}", StringComparison.Ordinal),
            string.Join(", ", during.Select(d => $"{d.Status} {d.Body}")) + "\n" + metrics + gateway.Output);
        if (failMode == "open")
        {
            Assert.All(during, d => Assert.Equal(200, d.Status));
        }
        else
        {
            Assert.All(during.SkipWhile(d => d.Status == 200), d =>
            {
                Assert.Equal(503, d.Status);
                Assert.Contains("spend log", d.Body, StringComparison.Ordinal);
                Assert.Contains("PostgreSQL", d.Body, StringComparison.Ordinal);
                Assert.Contains("spend_store_unavailable", d.Body, StringComparison.Ordinal);
            });
            Assert.True(during.Count(d => d.Status == 503) >= 8, string.Join(", ", during.Select(d => d.Status)));
        }
        Assert.False(gateway.Exited);

        await postgres.StartAsync();
        var clock = Stopwatch.StartNew();
        while (!(await gateway.Admin.GetStringAsync("/metrics")).Contains("sluice_gateway_spend_backlog_rows 0", StringComparison.Ordinal)
            && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(200);
        }
        // rows journaled (and kept in memory) while PostgreSQL was down are all there now, once each: answered ones billed,
        // refused ones (closed: refused before forwarding, or the answer withheld) unbilled
        foreach (var (id, status, _) in during)
        {
            var row = Assert.Single(await RowsAsync(gateway, $"request_id={id}"));
            Assert.Equal(status, row.GetProperty("status").GetInt32());
            Assert.Equal(status == 200 ? Cost : 0m, row.GetProperty("spend").GetDecimal());
        }
        Assert.Equal(200, (await SendAsync(gateway, secret, "after")).Status);
        Assert.Single(await RowsAsync(gateway, "request_id=after"));
    }

    [SkippableTheory]
    [InlineData("closed")]
    [InlineData("open")]
    public async Task RedisStoppedForTheBudgetCounters_FollowsTheFailMode_AndRecovers(string failMode)
    {
        await using var redis = await RedisServer.StartNewAsync();
        string config = await ConfigAsync(await (await servers.PostgresAsync()).CreateDatabaseAsync(), redis.ConnectionString, failMode);
        await using var gateway = await GatewayProcess.StartAsync(config);
        string secret = (string)(await Tenants.CreateAsync(gateway.Admin, """{"max_budget": 1000}"""))["key"]!;
        Assert.Equal(200, (await SendAsync(gateway, secret, "before")).Status);

        redis.Stop();
        // the request before was granted a share of the budget (RedisShares), which admits the key's requests here for
        // up to OpenFor without asking Redis; past it, every request asks Redis and meets the fail mode
        await Task.Delay(RedisShares.OpenFor + (RedisShares.SweepEvery * 2));
        var during = new List<(int Status, string Body)>();
        for (int i = 0; i < 4; i++)
        {
            during.Add(await SendAsync(gateway, secret, $"redis-{i}"));
        }
        if (failMode == "closed")
        {
            Assert.All(during, d =>
            {
                Assert.Equal(503, d.Status);
                Assert.Contains("budget counters (Redis", d.Body, StringComparison.Ordinal);
            });
        }
        else
        {
            Assert.All(during, d => Assert.Equal(200, d.Status));
        }
        Assert.Contains($"sluice_gateway_tenancy_store_errors_total{{store=\"redis\",fail_mode=\"{failMode}\"}}",
            await gateway.Admin.GetStringAsync("/metrics"), StringComparison.Ordinal);

        await redis.StartAsync();
        var clock = Stopwatch.StartNew();
        while ((await SendAsync(gateway, secret, "again")).Status != 200 && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(200);
        }
        Assert.Equal(200, (await SendAsync(gateway, secret, "after")).Status);
    }
}
