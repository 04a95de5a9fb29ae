using System.Net.Http.Headers;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Limits;

/// <summary>tpm_limit through one in-process gateway over SQLite, no Redis (the window in the process): streamed and not.</summary>
public sealed class TokensPerMinuteTests : IAsyncLifetime
{
    // 32 bytes: estimated on the safe side, as budgets do, at 16 prompt tokens (2 bytes a token); the backend reports 1
    // (FaultyBackend), so each request gives 15 back
    private const string Prompt = "abcdabcdabcdabcdabcdabcdabcdabcd";

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

    private async Task<(int Status, string Body, HttpResponseMessage Response)> SendAsync(string secret, int maxTokens, bool stream)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Requests.Completion("demo", maxTokens, stream, Prompt) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        var response = await _gateway.Client.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    /// <summary>
    /// Worst case 16 + 4 = 20 tokens. Used: 2 unstreamed (the backend's usage: 1 + 1), 5 streamed (1 + the 4 tokens sent).
    /// With 40 tokens a minute, a request is admitted while the window holds at most 20: settling lets 11 (2 each) or
    /// 5 (5 each) in, where the worst case alone would let 2.
    /// </summary>
    [Theory]
    [InlineData(false, 11)]
    [InlineData(true, 5)]
    public async Task Settle_GivesTheUnusedTokensBack_SoMoreRequestsFitThanTheWorstCase(bool stream, int expected)
    {
        string secret = (string)(await Tenants.CreateAsync(_gateway.Admin, """{"tpm_limit": 40}"""))["key"]!;

        int admitted = 0;
        (int Status, string Body, HttpResponseMessage Response) last;
        while (true)
        {
            last = await SendAsync(secret, 4, stream);
            if (last.Status != 200)
            {
                break;
            }
            if (stream)
            {
                Assert.Contains("[DONE]", last.Body, StringComparison.Ordinal);
            }
            last.Response.Dispose();
            admitted++;
            Assert.True(admitted <= expected, $"admitted more than {expected}");
        }

        using (last.Response)
        {
            Assert.Equal(expected, admitted);
            Assert.Equal(429, last.Status);
            Assert.Contains("tpm_limit_exceeded", last.Body, StringComparison.Ordinal);
            Assert.Contains("40 tokens per minute (tpm_limit)", last.Body, StringComparison.Ordinal);
            var retryAfter = last.Response.Headers.RetryAfter?.Delta;
            Assert.NotNull(retryAfter);
            Assert.InRange(retryAfter.Value.TotalSeconds, 1, 60);
        }
        Assert.Contains("sluice_gateway_key_rejections_total{reason=\"tpm\"} 1", await _gateway.Admin.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_WhoseWorstCaseAloneIsOverTheLimit_Is400SayingItCanNeverFit()
    {
        string secret = (string)(await Tenants.CreateAsync(_gateway.Admin, """{"tpm_limit": 100}"""))["key"]!;

        var (status, body, response) = await SendAsync(secret, 200, stream: false);

        using (response)
        {
            Assert.Equal(400, status);
            Assert.Contains("can never be admitted", body, StringComparison.Ordinal);
            Assert.Contains("\"param\":\"max_tokens\"", body.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.False(response.Headers.Contains("Retry-After"));
        }
        Assert.Empty(_backend.Attempts);
        // the same key still serves requests that fit
        var (fits, _, ok) = await SendAsync(secret, 4, stream: false);
        ok.Dispose();
        Assert.Equal(200, fits);
    }
}
