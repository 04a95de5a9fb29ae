using System.Text.Json;
using Sluice.Engine.Formats;

namespace Sluice.Engine.Models.HuggingFace;

/// <summary>Typed reads of a Hugging Face JSON file's fields; a missing or mistyped field is an error naming the file.</summary>
internal readonly struct JsonFields(string path, JsonElement obj)
{
    public string Path => path;

    public JsonElement Element => obj;

    public static JsonDocument ParseFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new ModelFormatException(path, "file not found");
        }
        try
        {
            var doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                doc.Dispose();
                throw new ModelFormatException(path, "not a JSON object");
            }
            return doc;
        }
        catch (JsonException ex)
        {
            throw new ModelFormatException(path, $"not valid JSON: {ex.Message}", ex);
        }
    }

    /// <summary>The field, unless it is absent or JSON null.</summary>
    public bool TryGet(string name, out JsonElement value) =>
        obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    public int RequiredPositiveInt(string name) =>
        OptionalPositiveInt(name) ?? throw new ModelFormatException(path, $"missing field '{name}'");

    public int? OptionalPositiveInt(string name)
    {
        if (!TryGet(name, out var v))
        {
            return null;
        }
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i) || i <= 0)
        {
            throw new ModelFormatException(path, $"field '{name}' must be a positive integer, got {v.GetRawText()}");
        }
        return i;
    }

    public double? OptionalNumber(string name)
    {
        if (!TryGet(name, out var v))
        {
            return null;
        }
        return v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw new ModelFormatException(path, $"field '{name}' must be a number, got {v.GetRawText()}");
    }

    public bool? OptionalBool(string name)
    {
        if (!TryGet(name, out var v))
        {
            return null;
        }
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ModelFormatException(path, $"field '{name}' must be true or false, got {v.GetRawText()}"),
        };
    }

    public string? OptionalString(string name)
    {
        if (!TryGet(name, out var v))
        {
            return null;
        }
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw new ModelFormatException(path, $"field '{name}' must be a string, got {v.GetRawText()}");
    }

    /// <summary>A token id field that may be one integer or a list of them (as <c>eos_token_id</c> is).</summary>
    public IReadOnlyList<int> IdList(string name)
    {
        if (!TryGet(name, out var v))
        {
            return [];
        }
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int one) && one >= 0)
        {
            return [one];
        }
        if (v.ValueKind == JsonValueKind.Array)
        {
            var ids = new List<int>();
            foreach (var e in v.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int id) || id < 0)
                {
                    throw new ModelFormatException(path, $"field '{name}' must hold token ids, got {v.GetRawText()}");
                }
                ids.Add(id);
            }
            return ids;
        }
        throw new ModelFormatException(path, $"field '{name}' must be a token id or a list of them, got {v.GetRawText()}");
    }

    public JsonFields? OptionalObject(string name)
    {
        if (!TryGet(name, out var v))
        {
            return null;
        }
        return v.ValueKind == JsonValueKind.Object ? new JsonFields(path, v) : throw new ModelFormatException(path, $"field '{name}' must be an object, got {v.GetRawText()}");
    }
}
