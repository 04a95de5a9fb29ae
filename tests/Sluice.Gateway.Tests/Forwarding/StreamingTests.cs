using System.Net;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Forwarding;

/// <summary>SSE through the gateway: the same events as straight from the backend, each passed on as it comes.</summary>
[Collection(ReplicaCollection.Name)]
public sealed class StreamingTests(ServeReplicas replicas)
{
    [Fact]
    public async Task Stream_ThroughTheGateway_IsTheBackendsStreamChunkForChunk()
    {
        await using var g = await TestGateway.StartAsync(TestGateway.Config("demo", [(replicas.Urls[1], "v1", 1)]));
        using var direct = new HttpClient { BaseAddress = replicas.Urls[1] };
        using var viaGateway = await g.Client.PostAsync("/v1/completions", Requests.Completion("demo", 40, stream: true));
        using var straight = await direct.PostAsync("/v1/completions", Requests.Completion(ServeReplicas.BackendModel, 40, stream: true));
        Assert.Equal(HttpStatusCode.OK, viaGateway.StatusCode);
        Assert.Equal("text/event-stream", viaGateway.Content.Headers.ContentType?.MediaType);
        var a = (await Requests.EventsAsync(viaGateway)).Select(Requests.Choices).ToList();
        var b = (await Requests.EventsAsync(straight)).Select(Requests.Choices).ToList();
        Assert.Equal("[DONE]", a[^1]);
        Assert.True(a.Count >= 41, $"{a.Count} events");
        Assert.Equal(b, a);
    }

    [Fact]
    public async Task Stream_FirstChunk_ReachesTheClientWhileTheBackendIsStillGenerating()
    {
        await using var g = await TestGateway.StartAsync(TestGateway.Config("demo", [(replicas.Urls[1], "v1", 1)]));
        using var response = await g.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = Requests.Completion("demo", 1500, stream: true),
        }, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        string? line;
        while ((line = await reader.ReadLineAsync()) is not null && !line.StartsWith("data: {", StringComparison.Ordinal))
        {
        }
        Assert.NotNull(line);
        // the backend is still on it: the first chunk was not held back until the stream ended
        var backend = Assert.Single(g.Gateway.Router.Backends.All);
        Assert.Equal(1, backend.InFlight);
        string rest = await reader.ReadToEndAsync();
        Assert.EndsWith("data: [DONE]", rest.TrimEnd(), StringComparison.Ordinal);
    }
}
