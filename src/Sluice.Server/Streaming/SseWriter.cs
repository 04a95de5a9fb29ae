using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Sluice.Server.OpenAi;

namespace Sluice.Server.Streaming;

/// <summary>
/// Server-sent events as OpenAI sends them: <c>data: {json}\n\n</c> per chunk, flushed at once, and
/// <c>data: [DONE]\n\n</c> at the end. Writes stop quietly once the client has gone.
/// </summary>
internal sealed class SseWriter
{
    private static readonly byte[] Prefix = "data: "u8.ToArray();
    private static readonly byte[] Separator = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    private readonly HttpResponse _response;
    private readonly Utf8JsonWriter _json;

    public SseWriter(HttpResponse response)
    {
        _response = response;
        _json = new Utf8JsonWriter(response.BodyWriter, new JsonWriterOptions { Encoder = OpenAiJson.Encoder });
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
    }

    /// <summary>Sends the headers now, so the client knows at once that the request was accepted.</summary>
    public Task BeginAsync() => FlushAsync();

    /// <summary>False once the client is gone.</summary>
    public bool Open { get; private set; } = true;

    public Task WriteAsync<T>(T chunk, JsonTypeInfo<T> type)
    {
        if (!Open)
        {
            return Task.CompletedTask;
        }
        _response.BodyWriter.Write(Prefix);
        _json.Reset(_response.BodyWriter);
        JsonSerializer.Serialize(_json, chunk, type);
        _json.Flush();
        _response.BodyWriter.Write(Separator);
        return FlushAsync();
    }

    /// <summary>An error in the middle of a stream: OpenAI's error object as one event (then [DONE]).</summary>
    public Task WriteErrorAsync(ApiException error)
    {
        if (!Open)
        {
            return Task.CompletedTask;
        }
        _response.BodyWriter.Write(Prefix);
        _json.Reset(_response.BodyWriter);
        ErrorBody.Write(_json, error);
        _json.Flush();
        _response.BodyWriter.Write(Separator);
        return FlushAsync();
    }

    public Task WriteDoneAsync()
    {
        if (!Open)
        {
            return Task.CompletedTask;
        }
        _response.BodyWriter.Write(Done);
        return FlushAsync();
    }

    private async Task FlushAsync()
    {
        try
        {
            var result = await _response.BodyWriter.FlushAsync(_response.HttpContext.RequestAborted);
            Open = !result.IsCompleted && !result.IsCanceled;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
            Open = false;
        }
    }
}
