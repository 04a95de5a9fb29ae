using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Forwarding;

/// <summary>
/// A completion request's body as the client sent it: its bytes, checked to be one JSON object, with the two fields every
/// request needs (<c>model</c>, <c>stream</c>) read by one forward pass of a <see cref="Utf8JsonReader"/>. The whole tree
/// (<see cref="Json"/>) is built only when something asks for it (a stream, a budget, a request-shape pool, prefix
/// affinity, counted usage); a plain request goes to its backend as the client's bytes with only the model's value
/// replaced (<see cref="ForBackend"/>), never parsed into a tree and serialized again.
/// </summary>
internal sealed class RequestBody
{
    private readonly byte[] _bytes;
    private readonly int _length;

    /// <summary>Where the top-level <c>model</c> value's token (quotes included) starts and ends in the bytes.</summary>
    private readonly int _modelStart, _modelEnd;

    private JsonObject? _json;
    private bool _treeChanged;
    private (string Model, ArraySegment<byte> Bytes)? _forBackend;

    private RequestBody(byte[] bytes, int length, string model, bool stream, int modelStart, int modelEnd, JsonObject? json, bool hasCacheField)
    {
        HasCacheField = hasCacheField;
        _bytes = bytes;
        _length = length;
        Model = model;
        Stream = stream;
        _modelStart = modelStart;
        _modelEnd = modelEnd;
        _json = json;
    }

    /// <summary>The public model the client asked for.</summary>
    public string Model { get; }

    /// <summary><c>"stream": true</c> at the top level.</summary>
    public bool Stream { get; }

    /// <summary>The body has a top-level <c>cache</c> field (the gateway's cache controls, never sent to a backend).</summary>
    public bool HasCacheField { get; }

    /// <summary>
    /// Says the tree (<see cref="Json"/>) was changed, a field taken out: from here on <see cref="ForBackend"/> serializes
    /// the tree (with the backend's model) instead of passing the client's bytes on.
    /// </summary>
    public void TreeChanged() => (_treeChanged, _forBackend) = (true, null);

    /// <summary>The body as a tree, parsed on first use (the bytes were checked already, so this cannot fail).</summary>
    public JsonObject Json => _json ??= (JsonObject)JsonNode.Parse(_bytes.AsSpan(0, _length))!;

    /// <summary>
    /// The body to send to a backend serving the model as <paramref name="backendModel"/>: the client's bytes, the model's
    /// value replaced where it differs (other fields byte for byte as sent). The last answer is kept for the next attempt.
    /// </summary>
    public ArraySegment<byte> ForBackend(string backendModel)
    {
        if (_forBackend is { } last && last.Model == backendModel)
        {
            return last.Bytes;
        }
        if (_treeChanged)
        {
            var json = Json;
            json["model"] = backendModel;
            var serialized = new ArraySegment<byte>(JsonSerializer.SerializeToUtf8Bytes(json, JsonContext.Default.JsonObject));
            _forBackend = (backendModel, serialized);
            return serialized;
        }
        // the JSON string as the serializer writes it (its default escaping), quotes included
        var encoded = JsonEncodedText.Encode(backendModel).EncodedUtf8Bytes;
        var value = new byte[encoded.Length + 2];
        (value[0], value[^1]) = ((byte)'"', (byte)'"');
        encoded.CopyTo(value.AsSpan(1));
        ArraySegment<byte> bytes;
        if (_bytes.AsSpan(_modelStart, _modelEnd - _modelStart).SequenceEqual(value))
        {
            bytes = new ArraySegment<byte>(_bytes, 0, _length);
        }
        else
        {
            var spliced = new byte[_length - (_modelEnd - _modelStart) + value.Length];
            _bytes.AsSpan(0, _modelStart).CopyTo(spliced);
            value.CopyTo(spliced.AsSpan(_modelStart));
            _bytes.AsSpan(_modelEnd, _length - _modelEnd).CopyTo(spliced.AsSpan(_modelStart + value.Length));
            bytes = spliced;
        }
        _forBackend = (backendModel, bytes);
        return bytes;
    }

    /// <summary>Reads the request's body (a ValueTask: a small body is usually there already, and then nothing is allocated
    /// for the wait) (at most <paramref name="limit"/> bytes: 413 past it) and checks it: 400 when it is
    /// not one JSON object or has no string <c>model</c>.</summary>
    public static async ValueTask<RequestBody> ReadAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            throw ApiException.BodyTooLarge(limit);
        }
        var (bytes, length) = request.ContentLength is { } declared
            ? await ReadDeclaredAsync(request.Body, (int)declared, cancellationToken)
            : await ReadChunkedAsync(request.Body, limit, cancellationToken);
        return Parse(bytes, length);
    }

    /// <summary>A body with a Content-Length: read straight into an array of that size (Kestrel ends the body there).</summary>
    private static async ValueTask<(byte[] Bytes, int Length)> ReadDeclaredAsync(Stream body, int declared, CancellationToken cancellationToken)
    {
        var bytes = new byte[declared];
        int length = 0, n;
        while (length < declared && (n = await body.ReadAsync(bytes.AsMemory(length), cancellationToken)) > 0)
        {
            length += n;
        }
        return (bytes, length);
    }

    /// <summary>A chunked body: copied through a pooled buffer, bounded by the limit.</summary>
    private static async ValueTask<(byte[] Bytes, int Length)> ReadChunkedAsync(Stream body, long limit, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream(); // no resources to release; its buffer is the body from here on
        byte[] chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int n;
            while ((n = await body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + n > limit)
                {
                    throw ApiException.BodyTooLarge(limit);
                }
                buffer.Write(chunk, 0, n);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        return (buffer.GetBuffer(), (int)buffer.Length);
    }

    /// <summary>Checks the whole body as JSON (what parsing it into a tree would refuse, refused with the same message) and
    /// finds the top-level <c>model</c> and <c>stream</c>; either named twice is refused.</summary>
    internal static RequestBody Parse(byte[] bytes, int length)
    {
        var reader = new Utf8JsonReader(bytes.AsSpan(0, length));
        string? model = null;
        bool modelIsString = false, stream = false, sawModel = false, sawStream = false, sawCache = false;
        string? repeated = null;
        int modelStart = 0, modelEnd = 0;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                while (reader.Read())
                {
                    // the rest must still be valid JSON: a broken body says it is not JSON before it says it is not an object
                }
                throw ApiException.BadRequest("The body must be a JSON object.");
            }
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != 1)
                {
                    continue;
                }
                if (reader.ValueTextEquals("model"u8))
                {
                    repeated ??= sawModel ? "model" : null;
                    sawModel = true;
                    reader.Read();
                    modelIsString = reader.TokenType == JsonTokenType.String;
                    if (modelIsString)
                    {
                        model = reader.GetString();
                        modelStart = (int)reader.TokenStartIndex;
                        modelEnd = (int)reader.BytesConsumed;
                    }
                    else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("cache"u8))
                {
                    sawCache = true;
                    reader.Read();
                    if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("stream"u8))
                {
                    repeated ??= sawStream ? "stream" : null;
                    sawStream = true;
                    reader.Read();
                    stream = reader.TokenType == JsonTokenType.True;
                    if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    {
                        reader.Skip();
                    }
                }
            }
        }
        catch (JsonException ex)
        {
            throw ApiException.BadRequest($"The body is not valid JSON: {ex.Message}");
        }
        if (repeated is { } name)
        {
            // which one would the backend read? (a tree of it cannot even be built: its keys must be unique)
            throw ApiException.BadRequest($"'{name}' is given more than once in the body.", name);
        }
        if (!modelIsString || string.IsNullOrEmpty(model))
        {
            throw ModelRequired();
        }
        return new RequestBody(bytes, length, model, stream, modelStart, modelEnd, null, sawCache);
    }

    private static ApiException ModelRequired() => ApiException.BadRequest("'model' is required: one of the names GET /v1/models lists.", "model");
}
