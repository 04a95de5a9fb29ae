using System.Text.Encodings.Web;
using System.Text.Json;

namespace Sluice.Engine.Models.HuggingFace.Conversion;

/// <summary>Writes the JSON files of a Hugging Face folder: indented, non-ASCII text kept readable.</summary>
internal static class JsonOutput
{
    public static void Write(string path, Action<Utf8JsonWriter> write, bool indented = true)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        write(json);
    }
}
