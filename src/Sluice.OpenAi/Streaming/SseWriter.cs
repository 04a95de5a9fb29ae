using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Sluice.OpenAi;

/// <summary>
/// Server-sent events as OpenAI sends them: <c>data: {json}\n\n</c> per chunk, flushed at once, and
/// <c>data: [DONE]\n\n</c> at the end. Writes stop quietly once the reader has gone (<see cref="Open"/> turns false).
/// </summary>
public sealed class SseWriter
{
    private static readonly byte[] Prefix = "data: "u8.ToArray();
    private static readonly byte[] Separator = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    private readonly PipeWriter _output;
    private readonly CancellationToken _aborted;
    private readonly Utf8JsonWriter _json;

    /// <param name="output">The response body.</param>
    /// <param name="aborted">Cancelled when the reader goes away; a flush then stops the stream.</param>
    public SseWriter(PipeWriter output, CancellationToken aborted)
    {
        _output = output;
        _aborted = aborted;
        _json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = OpenAiJson.Encoder });
    }

    /// <summary>False once the reader is gone.</summary>
    public bool Open { get; private set; } = true;

    /// <summary>One event with <paramref name="value"/> as its JSON data.</summary>
    public Task WriteAsync<T>(T value, JsonTypeInfo<T> type)
    {
        if (!Open)
        {
            return Task.CompletedTask;
        }
        _output.Write(Prefix);
        _json.Reset(_output);
        JsonSerializer.Serialize(_json, value, type);
        _json.Flush();
        _output.Write(Separator);
        return FlushAsync();
    }

    /// <summary><c>data: [DONE]</c>, the last event of a stream.</summary>
    public Task WriteDoneAsync()
    {
        if (!Open)
        {
            return Task.CompletedTask;
        }
        _output.Write(Done);
        return FlushAsync();
    }

    /// <summary>Sends what is buffered (at the start: the headers, so the client knows at once that the request was accepted).</summary>
    public async Task FlushAsync()
    {
        try
        {
            var result = await _output.FlushAsync(_aborted);
            Open = !result.IsCompleted && !result.IsCanceled;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
            Open = false;
        }
    }
}
