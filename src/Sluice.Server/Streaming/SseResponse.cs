using Microsoft.AspNetCore.Http;
using Sluice.Hosting.Errors;
using Sluice.OpenAi;

namespace Sluice.Server.Streaming;

/// <summary>An HTTP response that is a server-sent event stream: its headers, then events through an <see cref="SseWriter"/>.</summary>
internal sealed class SseResponse
{
    private readonly SseWriter _writer;

    public SseResponse(HttpResponse response)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        _writer = new SseWriter(response.BodyWriter, response.HttpContext.RequestAborted);
    }

    /// <summary>Sends the headers now, so the client knows at once that the request was accepted.</summary>
    public Task BeginAsync() => _writer.FlushAsync();

    public Task WriteAsync<T>(T chunk, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) => _writer.WriteAsync(chunk, type);

    /// <summary>An error in the middle of a stream: OpenAI's error object as one event (then [DONE]).</summary>
    public Task WriteErrorAsync(ApiException error) => _writer.WriteAsync(error.ToResponse(), OpenAiJson.Web.ErrorResponse);

    public Task WriteDoneAsync() => _writer.WriteDoneAsync();
}
