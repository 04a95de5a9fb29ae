using System.Text.Json;
using Sluice.Engine.Sampling.Grammars;
using Sluice.Hosting.Errors;
using Sluice.OpenAi;
using static Sluice.Engine.Sampling.Grammars.GrammarExpr;

namespace Sluice.Server.Requests;

/// <summary>
/// A request's structured-output fields to the grammar its output is held to: OpenAI's <c>response_format</c>
/// (<c>json_object</c>, <c>json_schema</c>), vLLM's <c>guided_json</c>, <c>guided_choice</c> and <c>guided_regex</c>.
/// llama.cpp's <c>grammar</c> and vLLM's <c>guided_grammar</c> (GBNF). At most one may be given; a schema, pattern or
/// grammar the compilers refuse is a 400 naming the field and the keyword or line.
/// </summary>
internal static class ConstraintReader
{
    public static GrammarMatcher? Read(SamplingFields f, ResolvedRequest r)
    {
        var format = ResponseFormat(f.ResponseFormat);
        var given = new List<(string Field, string Key, Func<Grammar> Compile)>();
        if (format is { } rf)
        {
            given.Add(rf);
        }
        if (f.GuidedJson is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } gj)
        {
            var schema = gj.ValueKind == JsonValueKind.String ? ParseSchema(gj.GetString()!, "guided_json") : gj;
            given.Add(("guided_json", "schema:" + schema.GetRawText(), () => Schema(schema, "guided_json")));
        }
        if (f.GuidedChoice is { } choices)
        {
            if (choices.Count == 0 || choices.Any(string.IsNullOrEmpty))
            {
                throw ApiException.BadRequest("'guided_choice' must be a non-empty list of non-empty strings.", "guided_choice");
            }
            given.Add(("guided_choice", "choice:" + string.Join('\0', choices), () => Choice(choices)));
        }
        foreach (var (gbnf, name) in new[] { (f.Grammar, "grammar"), (f.GuidedGrammar, "guided_grammar") })
        {
            if (gbnf is not null)
            {
                given.Add((name, "gbnf:" + gbnf, () => GbnfCompiler.Compile(gbnf)));
            }
        }
        if (f.GuidedRegex is { } regex)
        {
            given.Add(("guided_regex", "regex:" + regex, () => RegexCompiler.Compile(regex)));
        }
        if (given.Count > 1)
        {
            throw ApiException.BadRequest($"Give one structured-output constraint, not {string.Join(" and ", given.Select(g => g.Field))}.", given[1].Field);
        }
        if (given.Count == 0)
        {
            return null;
        }
        var (field, key, compile) = given[0];
        try
        {
            return r.Grammars.Get(key, TokenTrie.For(r.Loaded.Tokenizer), compile);
        }
        catch (GrammarException ex)
        {
            throw ApiException.BadRequest($"{field}: {ex.Message}.", field);
        }
    }

    private static (string, string, Func<Grammar>)? ResponseFormat(JsonElement? format)
    {
        if (format is not { ValueKind: JsonValueKind.Object } f)
        {
            if (format is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) })
            {
                throw ApiException.BadRequest("'response_format' must be an object.", "response_format");
            }
            return null;
        }
        string? type = f.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        switch (type)
        {
            case "text":
                return null;
            case "json_object":
                return ("response_format", "json_object", JsonGrammar.AnyObject);
            case "json_schema":
                if (!f.TryGetProperty("json_schema", out var js) || js.ValueKind != JsonValueKind.Object)
                {
                    throw ApiException.BadRequest("response_format json_schema needs a 'json_schema' object with a 'schema'.", "response_format");
                }
                if (js.TryGetProperty("strict", out var strict) && strict.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
                {
                    throw ApiException.BadRequest("response_format json_schema 'strict' must be a boolean.", "response_format");
                }
                // the schema is enforced whether strict or not: the output always validates
                var schema = js.TryGetProperty("schema", out var s) && s.ValueKind is JsonValueKind.Object or JsonValueKind.True
                    ? s
                    : ParseSchema("{}", "response_format");
                return ("response_format", "schema:" + schema.GetRawText(), () => Schema(schema, "response_format"));
            default:
                throw ApiException.BadRequest($"response_format type '{type}' is not supported: use text, json_object or json_schema.", "response_format");
        }
    }

    private static Grammar Schema(JsonElement schema, string field)
    {
        try
        {
            return JsonSchemaCompiler.Compile(schema);
        }
        catch (InvalidOperationException ex)
        {
            // a schema whose parts have the wrong JSON types (required: 3) fails inside System.Text.Json
            throw new GrammarException($"the schema is malformed for {field} ({ex.Message})");
        }
    }

    private static JsonElement ParseSchema(string text, string field)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            throw ApiException.BadRequest($"'{field}' must be a JSON schema (an object, or a string holding one).", field);
        }
    }

    private static Grammar Choice(List<string> choices)
    {
        var b = new GrammarBuilder();
        b.Define(b.NewRule(), GrammarExpr.Choice([.. choices.Distinct().Select(Literal)]));
        return b.Build();
    }
}
