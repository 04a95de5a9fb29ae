using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Sluice.Engine.Models;
using Sluice.Engine.Serving;
using Sluice.Server.Hosting;

namespace Sluice.Server.Tests.Support;

/// <summary>A real <see cref="SluiceServer"/> on 127.0.0.1 (a free port) serving the tiny test model, and an HttpClient for it.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private TestServer(SluiceServer server, HttpClient client)
    {
        Server = server;
        Client = client;
    }

    public SluiceServer Server { get; }
    public HttpClient Client { get; }
    public Uri BaseUri => Server.Addresses[0];
    public LlmEngine Engine => Server.Host.Engine!;

    public static EngineOptions DefaultEngine => new()
    {
        MaxNumSeqs = 16,
        MaxNumBatchedTokens = 256,
        KvCacheMemory = 8 << 20,
        Threads = 1,
    };

    /// <summary>Starts a server and waits until it is ready (or failed, for tests that want that).</summary>
    public static async Task<TestServer> StartAsync(ServerOptions? options = null, EngineOptions? engine = null, Func<LoadedModel>? load = null, bool waitReady = true, ServerHooks? hooks = null)
    {
        options = (options ?? new ServerOptions()) with { Host = "127.0.0.1", Port = 0 };
        if (options.Warmup && waitReady)
        {
            options = options with { Warmup = false }; // warm-up has its own test; skipping it keeps the suite quick
        }
        var server = SluiceServer.Create(options, engine ?? DefaultEngine, load ?? TestModels.LoadTiny, (hooks ?? new ServerHooks()) with { Logging = hooks?.Logging ?? (_ => { }) });
        await server.StartAsync();
        if (waitReady)
        {
            await server.Host.Settled.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(ServerState.Ready, server.Host.State);
        }
        // A response disposed before its end closes its connection at once rather than draining it for up to 2 s
        // (SocketsHttpHandler's ResponseDrainTimeout): tests that leave a stream expect the server to see it go.
        var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = server.Addresses[0], Timeout = TimeSpan.FromSeconds(60) };
        if (options.ApiKeys.Count > 0)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKeys[0]);
        }
        return new TestServer(server, client);
    }

    public Task<HttpResponseMessage> PostAsync(string path, string json) =>
        Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    public async Task<(int Status, JsonElement Body, HttpResponseMessage Response)> PostJsonAsync(string path, string json)
    {
        var response = await PostAsync(path, json);
        string text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text);
        return ((int)response.StatusCode, doc.RootElement.Clone(), response);
    }

    /// <summary>Waits until the engine holds no sequence and every KV block is free again.</summary>
    public async Task WaitForAllBlocksFreeAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (DateTime.UtcNow < deadline)
        {
            var s = Engine.Stats;
            if (s.Running == 0 && s.Waiting == 0 && s.KvBlocksFree == s.KvBlocksTotal && Server.Serving.Admission.InFlight == 0)
            {
                return;
            }
            await Task.Delay(20);
        }
        var last = Engine.Stats;
        Assert.Fail($"blocks not freed: running {last.Running}, waiting {last.Waiting}, free {last.KvBlocksFree}/{last.KvBlocksTotal}, in flight {Server.Serving.Admission.InFlight}");
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
    }
}
