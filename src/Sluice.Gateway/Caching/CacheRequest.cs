using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Caching;

/// <summary>What the cache does for one request: look it up (and store the answer on a miss), or bypass it, and why.</summary>
internal readonly record struct CachePlan(UInt128 Key, bool Lookup, bool Store, string? Bypass)
{
    public bool Used => Lookup || Store;
}

/// <summary>
/// The cache's view of a request: whether it may be answered from the cache, and its key. Only deterministic requests are
/// cached: <c>temperature</c> 0 (greedy), or a <c>seed</c> (the engine's seeded sampling gives the same tokens whatever
/// the batch). The key is SHA-256 over the route and the canonical JSON of the body (keys sorted, no whitespace, numbers
/// written the same whatever their spelling) without the fields that do not change the answer's content:
/// <see cref="Excluded"/>. Per request, <c>"cache": {"no-cache": true}</c> skips the lookup (the answer is still stored),
/// <c>"no-store"</c> does not store it, and the <c>Cache-Control</c> header's <c>no-cache</c> and <c>no-store</c> mean the
/// same; anything else in either is refused (400 naming it): a client asking for what the gateway does not do is told.
/// </summary>
internal static class CacheRequest
{
    /// <summary>Fields left out of the key: how the answer is delivered (stream, stream_options), who asked (user), the
    /// cache controls themselves, and the backend's scheduling priority. Everything else is in the key.</summary>
    public static readonly string[] Excluded = ["stream", "stream_options", "user", "cache", "priority"];

    /// <summary>
    /// Reads (and removes: it is the gateway's, never sent to a backend) the body's <c>cache</c> controls and the
    /// Cache-Control header, and decides. <paramref name="enabled"/> false: nothing is cached, the controls are still checked.
    /// </summary>
    public static CachePlan Plan(string route, JsonObject body, IHeaderDictionary headers, bool enabled)
    {
        bool noCache = false, noStore = false;
        if (body["cache"] is { } controls)
        {
            body.Remove("cache");
            if (controls is not JsonObject fields)
            {
                throw ApiException.BadRequest("'cache' must be an object of cache controls: {\"no-cache\": true} and/or {\"no-store\": true}.", "cache");
            }
            foreach (var (name, value) in fields)
            {
                bool set = value is JsonValue v && v.TryGetValue(out bool b) ? b
                    : throw ApiException.BadRequest($"'cache.{name}' must be true or false.", "cache");
                switch (name)
                {
                    case "no-cache":
                        noCache |= set;
                        break;
                    case "no-store":
                        noStore |= set;
                        break;
                    default:
                        throw ApiException.BadRequest($"'cache.{name}' is not supported: the gateway's cache honours no-cache (do not answer from the cache) and no-store (do not store the answer).", "cache");
                }
            }
        }
        foreach (string? header in headers.CacheControl)
        {
            foreach (string directive in (header ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (directive.Equals("no-cache", StringComparison.OrdinalIgnoreCase))
                {
                    noCache = true;
                }
                else if (directive.Equals("no-store", StringComparison.OrdinalIgnoreCase))
                {
                    noStore = true;
                }
                else
                {
                    throw ApiException.BadRequest($"Cache-Control: '{directive}' is not supported: the gateway's cache honours no-cache and no-store.", "Cache-Control");
                }
            }
        }
        if (!enabled)
        {
            return default;
        }
        if (!Deterministic(body))
        {
            return new CachePlan(default, false, false, "sampled");
        }
        if (noCache && noStore)
        {
            return new CachePlan(default, false, false, "no_cache");
        }
        return new CachePlan(Key(route, body), !noCache, !noStore, noCache ? "no_cache" : null);
    }

    /// <summary>Greedy (temperature 0) or seeded. No temperature is OpenAI's default of 1: sampled.</summary>
    public static bool Deterministic(JsonObject body) =>
        (body["temperature"] is JsonValue t && t.TryGetValue(out double temperature) && temperature == 0)
        || (body["seed"] is JsonValue s && s.TryGetValue(out long _));

    /// <summary>The first 128 bits of SHA-256 over the route, a newline and the canonical body without <see cref="Excluded"/>.</summary>
    public static UInt128 Key(string route, JsonObject body)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        System.Text.EncodingExtensions.GetBytes(System.Text.Encoding.UTF8, route.AsSpan(), buffer);
        buffer.Write("\n"u8);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteCanonical(writer, body, top: true);
        }
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(buffer.WrittenSpan, hash);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(hash);
    }

    private static void WriteCanonical(Utf8JsonWriter writer, JsonNode? node, bool top = false)
    {
        switch (node)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonObject o:
                var properties = new KeyValuePair<string, JsonNode?>[o.Count];
                int n = 0;
                foreach (var property in o)
                {
                    properties[n++] = property;
                }
                Array.Sort(properties, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
                writer.WriteStartObject();
                foreach (var (name, value) in properties)
                {
                    if (top && Array.IndexOf(Excluded, name) >= 0)
                    {
                        continue;
                    }
                    writer.WritePropertyName(name);
                    WriteCanonical(writer, value);
                }
                writer.WriteEndObject();
                break;
            case JsonArray a:
                writer.WriteStartArray();
                foreach (var item in a)
                {
                    WriteCanonical(writer, item);
                }
                writer.WriteEndArray();
                break;
            case JsonValue v:
                switch (v.GetValueKind())
                {
                    case JsonValueKind.String:
                        writer.WriteStringValue(v.GetValue<string>());
                        break;
                    case JsonValueKind.Number when v.TryGetValue(out long l):
                        writer.WriteNumberValue(l);
                        break;
                    case JsonValueKind.Number:
                        // 0, 0.0 and 0e0 are one key
                        writer.WriteNumberValue(v.GetValue<double>());
                        break;
                    default:
                        v.WriteTo(writer);
                        break;
                }
                break;
        }
    }
}
