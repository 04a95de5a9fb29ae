using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sluice.Gateway.Tenancy.Spend;

namespace Sluice.Gateway.Caching;

/// <summary>
/// One cached answer: the complete non-streamed response body, byte for byte as the client got it (a streamed answer is
/// stored assembled into that form), its token counts and the price it was generated at (for billing a hit), and when it
/// was stored. A streamed request is answered from it as server-sent events built once per entry (<see cref="Events"/>).
/// </summary>
internal sealed class CachedAnswer(byte[] body, bool chat, long promptTokens, long completionTokens, Price price, long storedAtMs)
{
    // Redis value layout: version byte, flags byte (1: chat), prompt tokens, completion tokens, input and output price
    // (pico per token), stored-at (Unix ms), all little-endian int64, then the body
    private const int HeaderSize = 2 + (5 * 8);
    private const byte Version = 1;

    private byte[]? _events;
    private byte[]? _usageEvent;

    public byte[] Body { get; } = body;
    public bool Chat { get; } = chat;
    public long PromptTokens { get; } = promptTokens;
    public long CompletionTokens { get; } = completionTokens;
    public Price Price { get; } = price;
    public long StoredAtMs { get; } = storedAtMs;

    /// <summary>What the entry holds in memory, as the size cap counts it: the body, and its events once built
    /// (<see cref="Prepare"/>), plus a fixed overhead.</summary>
    public long Size => Body.Length + (_events?.Length ?? 0) + (_usageEvent?.Length ?? 0) + HeaderSize + 64;

    /// <summary>Builds the stream replay now (the memory store does before counting the entry, so its size does not grow once cached).</summary>
    public void Prepare()
    {
        _ = Events;
        _ = UsageEvent;
    }

    public byte[] Serialize()
    {
        var bytes = new byte[HeaderSize + Body.Length];
        bytes[0] = Version;
        bytes[1] = Chat ? (byte)1 : (byte)0;
        var span = bytes.AsSpan(2);
        BinaryPrimitives.WriteInt64LittleEndian(span, PromptTokens);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], CompletionTokens);
        BinaryPrimitives.WriteInt64LittleEndian(span[16..], Price.InputPico);
        BinaryPrimitives.WriteInt64LittleEndian(span[24..], Price.OutputPico);
        BinaryPrimitives.WriteInt64LittleEndian(span[32..], StoredAtMs);
        Body.CopyTo(bytes.AsSpan(HeaderSize));
        return bytes;
    }

    /// <summary>An entry read back from Redis; null when it is not one this version wrote (treated as a miss).</summary>
    public static CachedAnswer? Deserialize(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderSize || bytes[0] != Version)
        {
            return null;
        }
        var span = bytes[2..];
        return new CachedAnswer(bytes[HeaderSize..].ToArray(), bytes[1] == 1, BinaryPrimitives.ReadInt64LittleEndian(span),
            BinaryPrimitives.ReadInt64LittleEndian(span[8..]),
            new Price(BinaryPrimitives.ReadInt64LittleEndian(span[16..]), BinaryPrimitives.ReadInt64LittleEndian(span[24..])),
            BinaryPrimitives.ReadInt64LittleEndian(span[32..]));
    }

    /// <summary>
    /// The answer as a stream, without the usage chunk and [DONE]: per choice one chunk with all its content (its role,
    /// text, tool calls and logprobs) and its finish_reason, with the stored answer's id, created and model. Built on first use.
    /// </summary>
    public byte[] Events => _events ??= BuildEvents();

    /// <summary>The usage chunk of a replayed stream (stream_options.include_usage). Built on first use.</summary>
    public byte[] UsageEvent => _usageEvent ??= BuildUsageEvent();

    private byte[] BuildUsageEvent()
    {
        var body = JsonNode.Parse(Body)!.AsObject();
        var usage = body["usage"]?.DeepClone() ?? new JsonObject
        {
            ["prompt_tokens"] = PromptTokens,
            ["completion_tokens"] = CompletionTokens,
            ["total_tokens"] = PromptTokens + CompletionTokens,
        };
        return Event(Chunk(body, new JsonArray(), usage));
    }

    private JsonObject Chunk(JsonObject body, JsonArray choices, JsonNode? usage = null)
    {
        var chunk = new JsonObject
        {
            ["id"] = body["id"]?.DeepClone(),
            ["object"] = Chat ? "chat.completion.chunk" : "text_completion",
            ["created"] = body["created"]?.DeepClone(),
            ["model"] = body["model"]?.DeepClone(),
        };
        if (body["system_fingerprint"] is { } fingerprint)
        {
            chunk["system_fingerprint"] = fingerprint.DeepClone();
        }
        chunk["choices"] = choices;
        if (usage is not null)
        {
            chunk["usage"] = usage;
        }
        return chunk;
    }

    private byte[] BuildEvents()
    {
        var body = JsonNode.Parse(Body)!.AsObject();
        using var events = new MemoryStream();
        foreach (var node in body["choices"] as JsonArray ?? [])
        {
            if (node is not JsonObject choice)
            {
                continue;
            }
            var streamed = new JsonObject { ["index"] = choice["index"]?.DeepClone() ?? 0 };
            if (Chat)
            {
                var message = choice["message"] as JsonObject ?? [];
                var delta = new JsonObject();
                foreach (var (name, value) in message)
                {
                    delta[name] = value?.DeepClone();
                }
                if (delta["tool_calls"] is JsonArray calls)
                {
                    for (int i = 0; i < calls.Count; i++)
                    {
                        if (calls[i] is JsonObject call && call["index"] is null)
                        {
                            call["index"] = i; // a streamed tool call names its position
                        }
                    }
                }
                streamed["delta"] = delta;
            }
            else
            {
                streamed["text"] = choice["text"]?.DeepClone() ?? "";
            }
            foreach (var (name, value) in choice)
            {
                if (name is not ("index" or "message" or "text"))
                {
                    streamed[name] = value?.DeepClone();
                }
            }
            events.Write(Event(Chunk(body, [streamed])));
        }
        return events.ToArray();
    }

    private static readonly JsonWriterOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static byte[] Event(JsonObject chunk)
    {
        using var buffer = new MemoryStream();
        buffer.Write("data: "u8);
        using (var writer = new Utf8JsonWriter(buffer, Relaxed))
        {
            chunk.WriteTo(writer);
        }
        buffer.Write("\n\n"u8);
        return buffer.ToArray();
    }
}
