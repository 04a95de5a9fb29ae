using System.ClientModel;
using System.Globalization;
using System.Net;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Forwarding;

/// <summary>The proxy routes against real `sluice serve` replicas: names, request ids, headers, the OpenAI SDK.</summary>
[Collection(ReplicaCollection.Name)]
public sealed class ProxyTests(ServeReplicas replicas)
{
    private string OneReplica => TestGateway.Config("demo", [(replicas.Urls[0], "v1", 1)]);

    [Fact]
    public async Task Completion_ByPublicName_ReachesTheBackendUnderItsOwnName()
    {
        await using var g = await TestGateway.StartAsync(OneReplica);
        using var response = await g.Client.PostAsync("/v1/completions", Requests.Completion("demo"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(ServeReplicas.BackendModel, doc.RootElement.GetProperty("model").GetString());
        Assert.Equal(2, doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(replicas.Urls[0].Authority, Requests.Header(response, AttemptTransformer.BackendHeader));
        Assert.Equal("v1", Requests.Header(response, AttemptTransformer.VersionHeader));
    }

    [Fact]
    public async Task RequestId_FromTheClient_ReachesTheBackendAndComesBack()
    {
        await using var g = await TestGateway.StartAsync(OneReplica);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = Requests.Completion("demo") };
        request.Headers.Add("X-Request-Id", "client-id-42");
        using var response = await g.Client.SendAsync(request);
        Assert.Equal("client-id-42", Requests.Header(response, "X-Request-Id"));
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        // sluice serve names its completion after the request id it received
        Assert.Equal("cmpl-client-id-42", doc.RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task RequestId_MadeByTheGateway_ReachesTheBackendAndComesBack()
    {
        await using var g = await TestGateway.StartAsync(OneReplica);
        using var response = await g.Client.PostAsync("/v1/completions", Requests.Completion("demo"));
        string id = Requests.Header(response, "X-Request-Id");
        Assert.Equal(32, id.Length);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("cmpl-" + id, doc.RootElement.GetProperty("id").GetString());
    }

    [Theory]
    [InlineData("/v1/completions", """{"model": "demo", "prompt": "x", "max_tokens": 1}""", HttpStatusCode.OK)]
    [InlineData("/v1/completions", """{"model": "unknown", "prompt": "x"}""", HttpStatusCode.NotFound)]
    [InlineData("/v1/completions", """{"prompt": "x"}""", HttpStatusCode.BadRequest)]
    [InlineData("/v1/completions", "not json", HttpStatusCode.BadRequest)]
    [InlineData("/v1/models", null, HttpStatusCode.OK)]
    [InlineData("/nowhere", null, HttpStatusCode.NotFound)]
    public async Task EveryResponse_CarriesTheAddedLatency(string path, string? body, HttpStatusCode status)
    {
        await using var g = await TestGateway.StartAsync(OneReplica);
        using var response = body is null ? await g.Client.GetAsync(path) : await g.Client.PostAsync(path, Requests.Json(body));
        Assert.Equal(status, response.StatusCode);
        double added = double.Parse(Requests.Header(response, AttemptTransformer.AddedLatencyHeader), CultureInfo.InvariantCulture);
        Assert.InRange(added, 0, 60_000);
    }

    [Fact]
    public async Task Models_ListsThePublicNames()
    {
        string yaml = "models:\n" + string.Join("", new[] { "alpha", "beta" }.Select(n =>
            $"  - name: {n}\n    deployments:\n      - url: {replicas.Urls[0]}\n        model: {ServeReplicas.BackendModel}\n"));
        await using var g = await TestGateway.StartAsync(yaml);
        using var doc = JsonDocument.Parse(await g.Client.GetStringAsync("/v1/models"));
        Assert.Equal(["alpha", "beta"], doc.RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task OpenAiSdk_ChatAndStreamingChat_WorkThroughTheGateway()
    {
        await using var g = await TestGateway.StartAsync(OneReplica, apiKeys: ["client-key"]);
        var client = new ChatClient("demo", new ApiKeyCredential("client-key"), new OpenAIClientOptions { Endpoint = new Uri(g.BaseUri, "/v1") });
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 4, Temperature = 0 };
        ChatCompletion answer = await client.CompleteChatAsync([new UserChatMessage("hi")], options);
        Assert.Equal(ServeReplicas.BackendModel, answer.Model);
        Assert.Equal(4, answer.Usage.OutputTokenCount);
        int updates = 0;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("hi")], options))
        {
            updates++;
        }
        Assert.True(updates >= 4, $"{updates} updates");

        var wrongKey = new ChatClient("demo", new ApiKeyCredential("wrong"), new OpenAIClientOptions { Endpoint = new Uri(g.BaseUri, "/v1") });
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => wrongKey.CompleteChatAsync([new UserChatMessage("hi")], options));
        Assert.Equal(401, ex.Status);
    }

    [Fact]
    public async Task Metrics_CountRequestsPerModelVersionAndBackend()
    {
        await using var g = await TestGateway.StartAsync(OneReplica);
        for (int i = 0; i < 3; i++)
        {
            (await g.Client.PostAsync("/v1/completions", Requests.Completion("demo"))).Dispose();
        }
        string text = await g.Client.GetStringAsync("/metrics");
        Assert.Contains($"sluice_gateway_requests_total{{model=\"demo\",version=\"v1\",backend=\"{replicas.Urls[0].Authority}\",code=\"200\"}} 3", text, StringComparison.Ordinal);
        Assert.Contains($"sluice_gateway_added_latency_seconds_count{{model=\"demo\",version=\"v1\",backend=\"{replicas.Urls[0].Authority}\"}} 3", text, StringComparison.Ordinal);
        Assert.Contains($"sluice_gateway_backend_circuit_state{{backend=\"{replicas.Urls[0].Authority}\"}} 0", text, StringComparison.Ordinal);
        Assert.Contains("sluice_gateway_traffic_percent{model=\"demo\",version=\"v1\"} 100", text, StringComparison.Ordinal);
    }
}
