using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Tracing;

namespace Sluice.Hosting.Requests;

/// <summary>
/// Reads a request body as JSON whatever its Content-Type (runbooks type <c>curl -d '{...}'</c>, which sends
/// form encoding), bounded by --max-request-body-size, and turns every way it can be wrong into a 400 or 413
/// that names the field. Every string in the body (values and keys, read by a route or not) is checked to be
/// valid Unicode here, once for all routes, before any field is read.
/// </summary>
public static class JsonBody
{
    public static async Task<T> ReadAsync<T>(HttpContext context, long limit, JsonTypeInfo<T> type)
        where T : class
    {
        var stages = RequestStages.Of(context);
        long started = stages?.Start() ?? 0;
        var bytes = await ReadBytesAsync(context, limit);
        if (stages is not null)
        {
            stages.Stop(RequestStage.BodyRead, started);
            started = stages.Start();
        }
        try
        {
            return Parse(bytes, type);
        }
        finally
        {
            stages?.Stop(RequestStage.JsonParse, started);
        }
    }

    private static T Parse<T>(ReadOnlyMemory<byte> bytes, JsonTypeInfo<T> type)
        where T : class
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            throw ApiException.BadRequest($"The request body is not valid JSON: {Trim(ex.Message)}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.BadRequest($"The request body must be a JSON object, not {Describe(document.RootElement.ValueKind)}.");
            }
            RequireUnicode(document.RootElement, "");
            try
            {
                return document.RootElement.Deserialize(type) ?? throw ApiException.BadRequest("The request body must be a JSON object.");
            }
            catch (JsonException ex)
            {
                string field = ex.Path is { Length: > 2 } path ? path[2..] : "(body)";
                throw ApiException.BadRequest($"Invalid value for '{field}': expected {Expected(type, field)}.", field);
            }
        }
    }

    /// <summary>
    /// The body, at most <paramref name="limit"/> bytes. A larger body is read on and discarded up to
    /// <see cref="DrainAllowance"/> more before the 413, so the client has finished sending and reads the
    /// answer instead of a reset connection; a body larger still gets its 413 at once.
    /// </summary>
    private static async Task<ReadOnlyMemory<byte>> ReadBytesAsync(HttpContext context, long limit)
    {
        var request = context.Request;
        if (request.ContentLength > limit + DrainAllowance)
        {
            throw ApiException.BodyTooLarge(limit);
        }
        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(request.ContentLength ?? 4096, limit) + 1);
        while (true)
        {
            int read;
            try
            {
                read = await request.Body.ReadAsync(buffer.GetMemory(8192), context.RequestAborted);
            }
            catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status400BadRequest)
            {
                throw new ClientGoneException("the request body ended early: the client went away", ex);
            }
            if (read == 0)
            {
                break;
            }
            buffer.Advance(read);
            if (buffer.WrittenCount > limit)
            {
                await DiscardAsync(context, buffer.WrittenCount, limit);
                throw ApiException.BodyTooLarge(limit);
            }
        }
        if (buffer.WrittenCount == 0)
        {
            throw ApiException.BadRequest("The request body is empty; send a JSON object.");
        }
        return buffer.WrittenMemory;
    }

    private const long DrainAllowance = 4 << 20;

    private static async Task DiscardAsync(HttpContext context, long seen, long limit)
    {
        var scratch = new byte[16384];
        while (seen <= limit + DrainAllowance)
        {
            int read = await context.Request.Body.ReadAsync(scratch, context.RequestAborted);
            if (read == 0)
            {
                return;
            }
            seen += read;
        }
    }

    /// <summary>
    /// Refuses strings that are not valid Unicode anywhere in <paramref name="element"/> (at <paramref name="path"/>):
    /// raw bytes that are not UTF-8, or a <c>\u</c> escape of a surrogate without its pair. System.Text.Json parses
    /// both and fails only when the string is read (an InvalidOperationException from <c>GetString</c>, which would be
    /// a 500, or the deserializer's "could not be converted to System.String"), so they are found here first.
    /// </summary>
    private static void RequireUnicode(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                if (Problem(JsonMarshal.GetRawUtf8Value(element)[1..^1], element, static e => e.GetString()) is { } problem)
                {
                    throw ApiException.BadRequest($"'{path}' is not valid Unicode: it holds {problem}.", path);
                }
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (Problem(JsonMarshal.GetRawUtf8PropertyName(property), property, static p => p.Name) is { } keyProblem)
                    {
                        throw path.Length == 0
                            ? ApiException.BadRequest($"A key of the request body is not valid Unicode: it holds {keyProblem}.")
                            : ApiException.BadRequest($"A key in '{path}' is not valid Unicode: it holds {keyProblem}.", path);
                    }
                    if (property.Value.ValueKind is JsonValueKind.String or JsonValueKind.Object or JsonValueKind.Array)
                    {
                        RequireUnicode(property.Value, path.Length == 0 ? property.Name : $"{path}.{property.Name}");
                    }
                }
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (item.ValueKind is JsonValueKind.String or JsonValueKind.Object or JsonValueKind.Array)
                    {
                        RequireUnicode(item, $"{path}[{i}]");
                    }
                    i++;
                }
                break;
        }
    }

    /// <summary>What is wrong with a JSON string given as its raw (still escaped) UTF-8, or null when it is valid Unicode.</summary>
    private static string? Problem<T>(ReadOnlySpan<byte> raw, T owner, Func<T, string?> unescape)
    {
        if (!Utf8.IsValid(raw))
        {
            return "bytes that are not UTF-8";
        }
        if (raw.IndexOf((byte)'\\') < 0)
        {
            return null;
        }
        try
        {
            unescape(owner); // the escapes are well-formed (the parser checked); only a lone surrogate fails here
            return null;
        }
        catch (InvalidOperationException)
        {
            return @"a \u escape of a lone surrogate (\ud800-\udfff without its pair)";
        }
    }

    /// <summary>System.Text.Json ends its messages with the path and position; the path is already named.</summary>
    private static string Trim(string message)
    {
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    /// <summary>What the field at <paramref name="path"/> (e.g. <c>messages[0].role</c>) should hold, from the body's type metadata.</summary>
    private static string Expected(JsonTypeInfo root, string path)
    {
        Type? type = root.Type;
        foreach (var segment in path.Split('.'))
        {
            string name = segment.Split('[')[0];
            var info = type is null ? null : root.Options.GetTypeInfo(type);
            type = info?.Properties.FirstOrDefault(p => p.Name == name)?.PropertyType;
            for (int i = segment.IndexOf('['); i >= 0 && type is not null; i = segment.IndexOf('[', i + 1))
            {
                type = type.IsGenericType ? type.GetGenericArguments()[^1] : null;
            }
        }
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        return type switch
        {
            null => "a value of another type",
            _ when type == typeof(int) || type == typeof(long) => "an integer",
            _ when type == typeof(float) || type == typeof(double) => "a number",
            _ when type == typeof(bool) => "true or false",
            _ when type == typeof(string) => "a string",
            _ when type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) => "an array",
            _ => "an object",
        };
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
