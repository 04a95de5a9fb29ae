using System.Net.Http.Headers;
using System.Text.Json;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Limits;

/// <summary>
/// A completion's rpm/parallel check is sent before its body is read and awaited with its tokens-per-minute and budget
/// reservations (one Redis round trip for all three): on one in-process gateway over SQLite with prices, the limits'
/// refusal still wins, what the others reserved goes back at once, and a refused request has no spend row.
/// </summary>
public sealed class PendingAdmissionTests : IAsyncLifetime
{
    private FaultyBackend _backend = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _backend = await FaultyBackend.StartAsync();
        const string Prices = "input_cost_per_token: 0.000001, output_cost_per_token: 0.000001";
        _gateway = await TestGateway.StartAsync($"""
            models:
              - name: demo
                deployments:
                  - {"{"}url: '{_backend.Url}', model: ok, kind: openai, {Prices}{"}"}
              - name: slow
                deployments:
                  - {"{"}url: '{_backend.Url}', model: delay-400, kind: openai, {Prices}{"}"}
            health:
              interval: 60s
            tenancy:
              database: admission.db
            """);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _backend.DisposeAsync();
    }

    private static HttpRequestMessage Completion(string secret, string model, string id)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = Requests.Json($$"""{"model": "{{model}}", "prompt": "x", "max_tokens": 10}"""),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        request.Headers.Add("X-Request-Id", id);
        return request;
    }

    [Fact]
    public async Task ParallelLimitRefusesWhileBudgetWouldAdmit_429AndTheBudgetReservationGivenBackAndNoRow()
    {
        // each request reserves (1 prompt token estimated + max_tokens 10) x 0.000001 = 0.000011 and costs 0.000002: with a
        // budget of 0.000012, the refused request's reservation left held would refuse the request after the slow one
        var key = await Tenants.CreateAsync(_gateway.Admin, """{"max_parallel_requests": 1, "max_budget": 0.000012}""");
        string secret = (string)key["key"]!;
        string run = Guid.NewGuid().ToString("N")[..8];
        var slow = Tenants.SendAsync(_gateway.Client, Completion(secret, "slow", $"{run}-slow"));
        await Task.Delay(150);

        var (status, body) = await Tenants.SendAsync(_gateway.Client, Completion(secret, "demo", $"{run}-refused"));
        Assert.Equal(429, status);
        Assert.Contains("max_parallel_requests", body, StringComparison.Ordinal);
        Assert.Equal(200, (await slow).Status);

        var (after, afterBody) = await Tenants.SendAsync(_gateway.Client, Completion(secret, "demo", $"{run}-after"));
        Assert.True(after == 200, afterBody);
        var logs = await _gateway.Admin.GetStringAsync($"/spend/logs?request_id={run}-refused");
        Assert.Empty(JsonDocument.Parse(logs).RootElement.EnumerateArray());
        Assert.Contains("sluice_gateway_key_rejections_total{reason=\"parallel\"}", await _gateway.Admin.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RpmLimitOnAChatCompletion_Is429NamingTheLimitWithNoRow()
    {
        var key = await Tenants.CreateAsync(_gateway.Admin, """{"rpm_limit": 1}""");
        string secret = (string)key["key"]!;
        Assert.Equal(200, (await Tenants.SendAsync(_gateway.Client, Tenants.Completion(secret, "demo", "/v1/chat/completions"))).Status);
        string run = Guid.NewGuid().ToString("N")[..8];
        var refused = Tenants.Completion(secret, "demo", "/v1/chat/completions");
        refused.Headers.Add("X-Request-Id", run);

        var (status, body) = await Tenants.SendAsync(_gateway.Client, refused);

        Assert.Equal(429, status);
        Assert.Contains("rpm_limit", body, StringComparison.Ordinal);
        Assert.Empty(JsonDocument.Parse(await _gateway.Admin.GetStringAsync($"/spend/logs?request_id={run}")).RootElement.EnumerateArray());
    }
}
