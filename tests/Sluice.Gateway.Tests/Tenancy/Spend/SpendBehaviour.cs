using System.Net;
using System.Text.Json;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Spend;

/// <summary>
/// Spend through the gateway, against <see cref="FaultyBackend"/> (its usage: 1 prompt token; a stream's completion tokens
/// are the words it sent), on the store a subclass gives: every request has exactly one row, committed before its
/// response ended (checked right after the response, no waiting), and its spend is exactly prompt × input price +
/// completion × output price. Prices: 0.000001 per prompt token, 0.000003 per completion token.
/// </summary>
public abstract class SpendBehaviour : IAsyncLifetime
{
    private const decimal In = 0.000001m;
    private const decimal Out = 0.000003m;

    private FaultyBackend _faulty = null!;
    private FaultyBackend _healthy = null!;

    /// <summary>tenancy.database for one test: a fresh store.</summary>
    protected abstract Task<string> DatabaseAsync();

    public async Task InitializeAsync()
    {
        _faulty = await FaultyBackend.StartAsync();
        _healthy = await FaultyBackend.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _faulty.DisposeAsync();
        await _healthy.DisposeAsync();
    }

    /// <summary>The store the last gateway of the test was started on.</summary>
    private string? _database;


    private async Task<TestGateway> GatewayAsync(string fault, string? healthy = "ok")
    {
        const string Prices = "input_cost_per_token: 0.000001, output_cost_per_token: 0.000003";
        string yaml = $"models:\n  - name: m\n    deployments:\n      - {{url: '{_faulty.Url}', model: {fault}, kind: openai, {Prices}}}\n";
        if (healthy is not null)
        {
            yaml += $"      - {{url: '{_healthy.Url}', model: {healthy}, kind: openai, {Prices}}}\n";
        }
        yaml += "routing: {strategy: weighted-round-robin}\n";
        _database = await DatabaseAsync();
        yaml += $"tenancy:\n  database: '{_database}'\n";
        return await TestGateway.StartAsync(yaml);
    }

    private static async Task<HttpResponseMessage> SendAsync(TestGateway g, string requestId, string json, HttpCompletionOption option = HttpCompletionOption.ResponseContentRead)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Requests.Json(json) };
        request.Headers.Add("X-Request-Id", requestId);
        // the master key: tenancy is on, so a request needs a key; the master key's requests carry no virtual key
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestGateway.MasterKey);
        return await g.Client.SendAsync(request, option);
    }

    private static async Task<List<JsonElement>> LogsAsync(TestGateway g, string requestId)
    {
        var response = await g.Admin.GetAsync($"/spend/logs?request_id={requestId}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return [.. JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.EnumerateArray()];
    }

    private static void AssertBilled(JsonElement row, long prompt, long completion)
    {
        Assert.Equal(prompt, row.GetProperty("prompt_tokens").GetInt64());
        Assert.Equal(completion, row.GetProperty("completion_tokens").GetInt64());
        Assert.Equal(prompt + completion, row.GetProperty("total_tokens").GetInt64());
        Assert.Equal((prompt * In) + (completion * Out), row.GetProperty("spend").GetDecimal());
        Assert.Equal("m", row.GetProperty("model").GetString());
    }

    [SkippableFact]
    public async Task NonStreaming_Completed_RowHasTheBackendsUsageBeforeTheResponseEnds()
    {
        await using var g = await GatewayAsync("ok", healthy: null);
        using var response = await SendAsync(g, "ns-1", """{"model": "m", "prompt": "x"}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("fine", body.GetProperty("choices")[0].GetProperty("text").GetString());
        var row = Assert.Single(await LogsAsync(g, "ns-1"));
        AssertBilled(row, 1, 1);
        Assert.False(row.GetProperty("stream").GetBoolean());
        Assert.False(row.GetProperty("tokens_counted").GetBoolean());
        Assert.Equal(_faulty.Url.Authority, row.GetProperty("model_id").GetString());
        Assert.Equal(200, row.GetProperty("status").GetInt32());
    }

    [SkippableFact]
    public async Task Streaming_ClientDidNotAskForUsage_BilledFromTheBackendsUsageThatTheClientDoesNotSee()
    {
        await using var g = await GatewayAsync("ok", healthy: null);
        using var response = await SendAsync(g, "st-1", """{"model": "m", "prompt": "x", "max_tokens": 4, "stream": true}""");
        var events = await Requests.EventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        Assert.DoesNotContain(events, e => e.Contains("usage", StringComparison.Ordinal));
        // the gateway asked the backend for it
        Assert.Contains("include_usage", Assert.Single(_faulty.Attempts).Body, StringComparison.Ordinal);
        var row = Assert.Single(await LogsAsync(g, "st-1"));
        AssertBilled(row, 1, 4);
        Assert.True(row.GetProperty("stream").GetBoolean());
        Assert.False(row.GetProperty("cancelled").GetBoolean());
    }

    [SkippableFact]
    public async Task Streaming_CutAndContinuedElsewhere_PromptOnceAndEveryDeliveredToken()
    {
        await using var g = await GatewayAsync("cut");
        using var response = await SendAsync(g, "cut-1", """{"model": "m", "prompt": "x", "stream": true, "stream_options": {"include_usage": true}}""");
        var events = await Requests.EventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal("w1 w2 w3 w4 w5 w6 ", Failover.FailoverTests.StreamText(events));
        var row = Assert.Single(await LogsAsync(g, "cut-1"));
        AssertBilled(row, 1, 6);
        Assert.Equal(_healthy.Url.Authority, row.GetProperty("model_id").GetString());
        // what the client was told is what it paid for
        var usage = JsonDocument.Parse(events[^2]).RootElement.GetProperty("usage");
        Assert.Equal(6, usage.GetProperty("completion_tokens").GetInt32());
    }

    [SkippableFact]
    public async Task Streaming_SeveralChoicesCutAndContinuedEachOnItsOwn_OneRowWithEachPromptOnceAndEveryDeliveredToken()
    {
        await using var g = await GatewayAsync("cut");
        using var response = await SendAsync(g, "cut-n", """{"model": "m", "prompt": ["a", "b"], "n": 2, "stream": true, "stream_options": {"include_usage": true}}""");
        var events = await Requests.EventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal(4, _healthy.Attempts.Count(a => a.RequestId == "cut-n")); // one continuation per choice
        var row = Assert.Single(await LogsAsync(g, "cut-n"));
        AssertBilled(row, 2, 24); // two prompts once each (not once per continuation), four choices of six words
        Assert.Equal(_healthy.Url.Authority, row.GetProperty("model_id").GetString());
        var usage = JsonDocument.Parse(events[^2]).RootElement.GetProperty("usage");
        Assert.Equal(2, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(24, usage.GetProperty("completion_tokens").GetInt32());
    }

    [SkippableFact]
    public async Task NonStreaming_FailedOver_OneRowForTheBackendThatAnswered()
    {
        await using var g = await GatewayAsync("503");
        using var response = await SendAsync(g, "fo-1", """{"model": "m", "prompt": "x"}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(_faulty.Attempts);
        var row = Assert.Single(await LogsAsync(g, "fo-1"));
        AssertBilled(row, 1, 1);
        Assert.Equal(_healthy.Url.Authority, row.GetProperty("model_id").GetString());
    }

    [SkippableFact]
    public async Task NonStreaming_EveryBackendFails_OneUnbilledRowWithTheStatus()
    {
        await using var g = await GatewayAsync("503", healthy: "503");
        using var response = await SendAsync(g, "fail-1", """{"model": "m", "prompt": "x"}""");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var row = Assert.Single(await LogsAsync(g, "fail-1"));
        AssertBilled(row, 0, 0);
        Assert.Equal(503, row.GetProperty("status").GetInt32());
    }

    [SkippableFact]
    public async Task Streaming_ClientCancels_PaysForTheTokensDelivered()
    {
        await using var g = await GatewayAsync("stall", healthy: null);
        using (var response = await SendAsync(g, "cancel-1", """{"model": "m", "prompt": "x", "stream": true}""", HttpCompletionOption.ResponseHeadersRead))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            int tokens = 0;
            while (tokens < 3 && await reader.ReadLineAsync() is { } line)
            {
                tokens += line.StartsWith("data: {", StringComparison.Ordinal) ? 1 : 0;
            }
        }
        // the client went away: its row comes once the gateway saw it go
        List<JsonElement> rows = [];
        for (int i = 0; i < 200 && rows.Count == 0; i++)
        {
            await Task.Delay(50);
            rows = await LogsAsync(g, "cancel-1");
        }
        var row = Assert.Single(rows);
        AssertBilled(row, 1, 3);
        Assert.True(row.GetProperty("cancelled").GetBoolean());
        Assert.True(row.GetProperty("tokens_counted").GetBoolean());
        Assert.Equal(499, row.GetProperty("status").GetInt32());
    }

    [SkippableFact]
    public async Task AdminSpend_GroupedByModelAndDay_SumsEveryRowExactly()
    {
        await using var g = await GatewayAsync("ok", healthy: null);
        for (int i = 0; i < 3; i++)
        {
            using var plain = await SendAsync(g, $"sum-{i}", """{"model": "m", "prompt": "x"}""");
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        }
        using (var stream = await SendAsync(g, "sum-s", """{"model": "m", "prompt": "x", "max_tokens": 5, "stream": true}"""))
        {
            Assert.Equal("[DONE]", (await Requests.EventsAsync(stream))[^1]);
        }
        decimal expected = (4 * In) + (8 * Out);
        foreach (string groupBy in new[] { "model", "day", "key", "team" })
        {
            var answer = JsonDocument.Parse(await g.Admin.GetStringAsync($"/admin/spend?group_by={groupBy}")).RootElement;
            var group = Assert.Single(answer.GetProperty("groups").EnumerateArray());
            Assert.Equal(4, group.GetProperty("requests").GetInt64());
            Assert.Equal(12, group.GetProperty("total_tokens").GetInt64());
            Assert.Equal(expected, group.GetProperty("spend").GetDecimal());
        }
        var byModel = JsonDocument.Parse(await g.Admin.GetStringAsync("/admin/spend?group_by=model")).RootElement;
        Assert.Equal("m", byModel.GetProperty("groups")[0].GetProperty("model").GetString());
        string today = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var none = JsonDocument.Parse(await g.Admin.GetStringAsync($"/admin/spend?group_by=model&from={today}T00:00:00Z&to={today}T00:00:01Z")).RootElement;
        Assert.Empty(none.GetProperty("groups").EnumerateArray());

        var bad = await g.Admin.GetAsync("/admin/spend?group_by=week");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("group_by", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await g.Client.GetAsync("/admin/spend")).StatusCode);

        string metrics = await g.Admin.GetStringAsync("/metrics");
        Assert.Contains("sluice_gateway_tokens_total{model=\"m\",team=\"\",kind=\"completion\"} 8", metrics, StringComparison.Ordinal);
        Assert.Contains("sluice_gateway_spend_writes_total{result=\"ok\"} 4", metrics, StringComparison.Ordinal);
        string spend = metrics.Split('\n').Single(l => l.StartsWith("sluice_gateway_spend_total{model=\"m\",team=\"\"} ", StringComparison.Ordinal));
        Assert.Equal((double)expected, double.Parse(spend.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture), 1e-12);
    }

    private static async Task<(int Status, string Body)> WithKeyAsync(TestGateway g, string secret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Requests.Json("""{"model": "m", "prompt": "x", "max_tokens": 1}""") };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);
        using var response = await g.Client.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [SkippableFact]
    public async Task Budget_KeysWithMoneyTokenAndZeroBudgets_RefusedOnceSpentOvershootingByAtMostOneRequest()
    {
        await using var g = await GatewayAsync("ok", healthy: null);
        var money = await Tenants.CreateAsync(g.Admin, """{"max_budget": 0.00001, "team_id": "t1", "budget_duration": "1d"}""");
        var tokens = await Tenants.CreateAsync(g.Admin, """{"max_budget_tokens": 3}""");
        var zero = await Tenants.CreateAsync(g.Admin, """{"max_budget": 0}""");

        // each request costs 1 x 0.000001 + 1 x 0.000003: three pass (0, 4, 8 millionths spent before them), the fourth is refused
        var answers = new List<(int Status, string Body)>();
        for (int i = 0; i < 5; i++)
        {
            answers.Add(await WithKeyAsync(g, money["key"]!.GetValue<string>()));
        }
        Assert.Equal([200, 200, 200, 400, 400], answers.Select(a => a.Status));
        var error = JsonDocument.Parse(answers[3].Body).RootElement.GetProperty("error");
        Assert.Equal("budget_exceeded", error.GetProperty("type").GetString());
        string message = error.GetProperty("message").GetString()!;
        Assert.Contains(money["id"]!.GetValue<string>(), message, StringComparison.Ordinal);
        Assert.Contains("max_budget 0.00001", message, StringComparison.Ordinal);
        Assert.Contains("resets at", message, StringComparison.Ordinal);
        var rows = JsonDocument.Parse(await g.Admin.GetStringAsync($"/spend/logs?api_key={money["id"]}")).RootElement.EnumerateArray().ToList();
        // the refused requests have their rows too: status 400, nothing billed
        Assert.Equal([200, 200, 200, 400, 400], rows.Select(r => r.GetProperty("status").GetInt32()).Order());
        Assert.All(rows, r => Assert.Equal("t1", r.GetProperty("team_id").GetString()));
        decimal spent = rows.Sum(r => r.GetProperty("spend").GetDecimal());
        Assert.Equal(3 * (In + Out), spent);
        Assert.True(spent <= 0.00001m + In + Out);

        // tokens: 2 per request; 0 then 2 spent pass, 4 >= 3 is refused
        var statuses = new List<int>();
        for (int i = 0; i < 3; i++)
        {
            statuses.Add((await WithKeyAsync(g, tokens["key"]!.GetValue<string>())).Status);
        }
        Assert.Equal([200, 200, 400], statuses);

        var refused = await WithKeyAsync(g, zero["key"]!.GetValue<string>());
        Assert.Equal(400, refused.Status);
        Assert.Contains("budget_exceeded", refused.Body, StringComparison.Ordinal);
        var zeroRow = Assert.Single(JsonDocument.Parse(await g.Admin.GetStringAsync($"/spend/logs?api_key={zero["id"]}")).RootElement.EnumerateArray());
        Assert.Equal(0m, zeroRow.GetProperty("spend").GetDecimal());
    }

    [SkippableFact]
    public async Task Budget_ConcurrentRequestsOnOneKey_OvershootByAtMostOneRequestAndSpendIsExact()
    {
        await using var g = await GatewayAsync("ok", healthy: null);
        var key = await Tenants.CreateAsync(g.Admin, """{"max_budget": 0.0001, "budget_duration": "1h"}""");
        string secret = key["key"]!.GetValue<string>();
        var statuses = new System.Collections.Concurrent.ConcurrentBag<int>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 60), new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (_, _) => statuses.Add((await WithKeyAsync(g, secret)).Status));

        // a request costs (and reserves) 0.000004: 25 fit the budget, and the counter lets no more through
        Assert.Equal(25, statuses.Count(s => s == 200));
        Assert.Equal(35, statuses.Count(s => s == 400));
        var rows = JsonDocument.Parse(await g.Admin.GetStringAsync($"/spend/logs?api_key={key["id"]}")).RootElement.EnumerateArray().ToList();
        Assert.Equal(60, rows.Count);
        Assert.Equal(25 * (In + Out), rows.Sum(r => r.GetProperty("spend").GetDecimal()));
    }

    [SkippableFact]
    public async Task Budget_AfterItsCounterIsSeeded_IsCheckedWithoutReadingTheSpendLog()
    {
        await using var g = await GatewayAsync("ok", healthy: null);
        var key = await Tenants.CreateAsync(g.Admin, """{"max_budget": 0.0001}""");
        string secret = key["key"]!.GetValue<string>();
        Assert.Equal(200, (await WithKeyAsync(g, secret)).Status); // seeds the counter from the spend log

        // a row written behind the gateway's back that spends the whole budget: the next check does not read the log, so it
        // still admits; the key's spend as the admin API reads it (from the log) has it
        await using (var database = Sluice.Gateway.Tenancy.Storage.TenancyDatabase.Open(_database!))
        {
            var store = new Sluice.Gateway.Tenancy.Spend.SpendStore(database);
            await store.WriteAsync([new Sluice.Gateway.Tenancy.Spend.UsageRecord
            {
                RowId = Guid.NewGuid().ToString("N"), RequestId = "behind", KeyId = key["id"]!.GetValue<string>(), Model = "m",
                SpendPico = 1_000_000_000, Status = 200, Start = DateTimeOffset.UtcNow, End = DateTimeOffset.UtcNow,
            }]);
            await store.CloseAsync();
        }
        Assert.Equal(200, (await WithKeyAsync(g, secret)).Status);
        var info = JsonDocument.Parse(await g.Admin.GetStringAsync($"/admin/keys/{key["id"]}")).RootElement;
        Assert.True(info.GetProperty("spend").GetDecimal() >= 0.001m);
    }
}
