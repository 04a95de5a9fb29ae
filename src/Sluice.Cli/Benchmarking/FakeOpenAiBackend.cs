using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Sluice.Cli.Benchmarking;

/// <summary>
/// `sluice bench gateway`'s backend: an OpenAI-shaped server in this process on 127.0.0.1 that answers at once and the same
/// way every time, so what a request costs through the gateway minus what it costs direct is the gateway's. A whole
/// answer is one constant JSON body; a stream is <see cref="Chunks"/> text chunks <see cref="ChunkGap"/> apart, a usage
/// chunk and [DONE]. /health and /health/ready answer ok (the gateway's readiness checks), never a completion.
/// </summary>
internal sealed class FakeOpenAiBackend : IAsyncDisposable
{
    private static readonly byte[] Whole = Encoding.UTF8.GetBytes(
        """{"id":"cmpl-bench","object":"text_completion","created":1,"model":"bench","choices":[{"index":0,"text":"ok","logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5}}""");

    private readonly WebApplication _app;
    private readonly byte[] _chunk;
    private readonly byte[] _end;

    private FakeOpenAiBackend(WebApplication app, int chunks, TimeSpan chunkGap)
    {
        _app = app;
        Chunks = chunks;
        ChunkGap = chunkGap;
        _chunk = Encoding.UTF8.GetBytes("""data: {"id":"cmpl-bench","object":"text_completion","created":1,"model":"bench","choices":[{"index":0,"text":"w ","logprobs":null,"finish_reason":null}]}""" + "\n\n");
        _end = Encoding.UTF8.GetBytes("data: " + $$$"""{"id":"cmpl-bench","object":"text_completion","created":1,"model":"bench","choices":[{"index":0,"text":"","logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":4,"completion_tokens":{{{chunks}}},"total_tokens":{{{4 + chunks}}}}}""" + "\n\ndata: [DONE]\n\n");
    }

    public int Chunks { get; }
    public TimeSpan ChunkGap { get; }

    public Uri Url => new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public static async Task<FakeOpenAiBackend> StartAsync(int chunks, TimeSpan chunkGap)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = Sluice.Hosting.SluiceHostingExtensions.HostArgs });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        // as the gateway's: the same hops saved direct and through the gateway (ThreadPoolTuning)
        builder.Services.Configure<SocketTransportOptions>(o => o.UnsafePreferInlineScheduling = ThreadPoolTuning.InlineIo);
        var app = builder.Build();
        var backend = new FakeOpenAiBackend(app, chunks, chunkGap);
        app.MapGet("/health", () => Results.Text("ok"));
        app.MapGet("/health/ready", () => Results.Text("ok"));
        app.MapPost("/v1/completions", backend.HandleAsync);
        app.MapPost("/v1/chat/completions", backend.HandleAsync);
        await app.StartAsync();
        return backend;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        if (!IsStream(body.GetBuffer().AsSpan(0, (int)body.Length)))
        {
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = Whole.Length;
            await context.Response.Body.WriteAsync(Whole, context.RequestAborted);
            return;
        }
        context.Response.ContentType = "text/event-stream";
        var output = context.Response.Body;
        for (int i = 0; i < Chunks; i++)
        {
            if (i > 0 && ChunkGap > TimeSpan.Zero)
            {
                await Task.Delay(ChunkGap, context.RequestAborted);
            }
            await output.WriteAsync(_chunk, context.RequestAborted);
            await output.FlushAsync(context.RequestAborted);
        }
        await output.WriteAsync(_end, context.RequestAborted);
        await output.FlushAsync(context.RequestAborted);
    }

    /// <summary>Whether the body asks for a stream: "stream": true (the load generator's own bodies, so a byte search is enough).</summary>
    private static bool IsStream(ReadOnlySpan<byte> body) => body.IndexOf("\"stream\":true"u8) >= 0 || body.IndexOf("\"stream\": true"u8) >= 0;

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
