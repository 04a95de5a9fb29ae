using System.Text.Json;

namespace Sluice.Cli.Benchmarking;

/// <summary>
/// The JSON schema `bench serve --json-schema` sends as <c>response_format</c> (and `bench throughput` constrains with): a
/// file, or <c>builtin</c>, a schema of records long enough that a constrained answer runs to --output-len like a free one.
/// </summary>
internal static class BenchSchema
{
    public const string BuiltinName = "builtin";

    /// <summary>An array of records of every kind of value, so the masks of strings, numbers, keys and separators all count.</summary>
    public const string Builtin = """
        {"type":"object","properties":{"records":{"type":"array","items":{"type":"object","properties":{
         "id":{"type":"integer","minimum":0},"name":{"type":"string","maxLength":24},
         "tags":{"type":"array","items":{"type":"string","maxLength":12},"maxItems":4},
         "score":{"type":"number"},"ok":{"type":"boolean"}},
         "required":["id","name","tags","score","ok"],"additionalProperties":false}}},
         "required":["records"],"additionalProperties":false}
        """;

    /// <summary>The schema's text: <c>builtin</c>, or a file's JSON (checked to parse, so a typo fails before any load).</summary>
    public static string Read(string value)
    {
        string text;
        if (value == BuiltinName)
        {
            text = Builtin;
        }
        else
        {
            if (!File.Exists(value))
            {
                throw new ArgumentException($"--json-schema {value}: no such file (or use '{BuiltinName}')");
            }
            text = File.ReadAllText(value);
        }
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.GetRawText();
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"--json-schema {value}: not JSON ({ex.Message})");
        }
    }

    /// <summary>The request's <c>response_format</c> for a schema.</summary>
    public static string ResponseFormat(string schema) =>
        """{"type":"json_schema","json_schema":{"name":"bench","schema":""" + schema + ""","strict":true}}""";
}
