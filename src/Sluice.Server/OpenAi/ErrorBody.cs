using System.Text.Json;

namespace Sluice.Server.OpenAi;

/// <summary>Writes OpenAI's error object: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
internal static class ErrorBody
{
    public static byte[] Json(ApiException error)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = OpenAiJson.Encoder }))
        {
            Write(w, error);
        }
        return buffer.ToArray();
    }

    /// <summary>The object alone, also used as a server-sent event inside a stream.</summary>
    public static void Write(Utf8JsonWriter w, ApiException error)
    {
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", error.Message);
        w.WriteString("type", error.Type);
        if (error.Param is null)
        {
            w.WriteNull("param");
        }
        else
        {
            w.WriteString("param", error.Param);
        }
        if (error.Code is null)
        {
            w.WriteNull("code");
        }
        else
        {
            w.WriteString("code", error.Code);
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
