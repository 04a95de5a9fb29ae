using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using static Sluice.Engine.Sampling.Grammars.GrammarExpr;

namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// A JSON schema to the grammar of the compact JSON texts valid against it. Supported: <c>type</c> (one or a list:
/// object, array, string, number, integer, boolean, null), <c>properties</c> (written in the schema's order),
/// <c>required</c>, <c>additionalProperties</c> (false; true or a schema only on an object without
/// <c>properties</c>; absent beside <c>properties</c> it reads as false, as xgrammar's strict mode), <c>enum</c>, <c>const</c>,
/// <c>items</c>, <c>minItems</c>, <c>maxItems</c>, <c>minLength</c>, <c>maxLength</c>, <c>anyOf</c>, local <c>$ref</c> into <c>$defs</c> or
/// <c>definitions</c> (recursion included), and the annotations (<c>title</c>, <c>description</c>, <c>$schema</c>,
/// <c>$id</c>, <c>default</c>, <c>examples</c>). Any other keyword is refused with a <see cref="GrammarException"/>
/// naming it, never ignored: a constraint the output would not keep is worse than an error.
/// </summary>
public sealed class JsonSchemaCompiler
{
    private static readonly HashSet<string> Annotations = ["title", "description", "$schema", "$id", "default", "examples", "$comment", "$defs", "definitions"];

    private static readonly HashSet<string> Supported = ["type", "properties", "required", "additionalProperties", "enum", "const",
        "items", "minItems", "maxItems", "anyOf", "$ref", "minLength", "maxLength"];

    private readonly GrammarBuilder _builder = new();
    private readonly JsonElement _root;
    private readonly Dictionary<string, int> _refs = [];
    private int _anyValue = -1;

    private JsonSchemaCompiler(JsonElement root) => _root = root;

    public static Grammar Compile(JsonElement schema)
    {
        var c = new JsonSchemaCompiler(schema);
        int root = c._builder.NewRule();
        c._builder.Define(root, c.Value(schema, "#"));
        return c._builder.Build();
    }

    public static Grammar Compile(string schemaJson)
    {
        using var doc = JsonDocument.Parse(schemaJson);
        return Compile(doc.RootElement);
    }

    private GrammarExpr Value(JsonElement s, string path)
    {
        if (s.ValueKind == JsonValueKind.True)
        {
            return AnyValue();
        }
        if (s.ValueKind != JsonValueKind.Object)
        {
            throw new GrammarException($"the schema at {path} must be an object or true, got {s.ValueKind}");
        }
        foreach (var p in s.EnumerateObject())
        {
            if (!Supported.Contains(p.Name) && !Annotations.Contains(p.Name))
            {
                throw new GrammarException($"JSON schema keyword '{p.Name}' (at {path}) is not supported", p.Name);
            }
        }
        if (s.TryGetProperty("$ref", out var reference))
        {
            if (s.EnumerateObject().Any(p => Supported.Contains(p.Name) && p.Name != "$ref"))
            {
                throw new GrammarException($"'$ref' beside other keywords (at {path}) is not supported", "$ref");
            }
            return Rule(Reference(reference.GetString() ?? "", path));
        }
        if (s.TryGetProperty("const", out var constant))
        {
            return Literal(Compact(constant));
        }
        if (s.TryGetProperty("enum", out var values))
        {
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
            {
                throw new GrammarException($"'enum' at {path} must be a non-empty array", "enum");
            }
            return Choice([.. values.EnumerateArray().Select(v => Literal(Compact(v))).Distinct()]);
        }
        if (s.TryGetProperty("anyOf", out var anyOf))
        {
            if (anyOf.ValueKind != JsonValueKind.Array || anyOf.GetArrayLength() == 0)
            {
                throw new GrammarException($"'anyOf' at {path} must be a non-empty array", "anyOf");
            }
            return Choice([.. anyOf.EnumerateArray().Select((sub, i) => Value(sub, $"{path}/anyOf/{i}"))]);
        }
        if (!s.TryGetProperty("type", out var type))
        {
            if (s.TryGetProperty("properties", out _))
            {
                return Object(s, path);
            }
            return s.TryGetProperty("items", out _) ? Array(s, path) : AnyValue();
        }
        var types = type.ValueKind == JsonValueKind.Array ? [.. type.EnumerateArray().Select(t => t.GetString() ?? "")] : new[] { type.GetString() ?? "" };
        return Choice([.. types.Distinct().Select(t => OfType(t, s, path))]);
    }

    private GrammarExpr OfType(string type, JsonElement s, string path) => type switch
    {
        "object" => Object(s, path),
        "array" => Array(s, path),
        "string" => String(s, path),
        "number" => JsonGrammar.Number,
        "integer" => JsonGrammar.Integer,
        "boolean" => Choice(Literal("true"), Literal("false")),
        "null" => Literal("null"),
        _ => throw new GrammarException($"'type' at {path} names '{type}', not a JSON schema type", "type"),
    };

    /// <summary>A string, its length in characters held to minLength and maxLength (an escape is one character).</summary>
    private static GrammarExpr String(JsonElement s, string path)
    {
        int min = Bound(s, "minLength", path) ?? 0;
        int? max = Bound(s, "maxLength", path);
        if (min == 0 && max is null)
        {
            return JsonGrammar.String;
        }
        if (max < min || (max ?? min) > GrammarBuilder.MaxBoundedRepeat)
        {
            throw new GrammarException($"'minLength'/'maxLength' at {path} must be a range within 0..{GrammarBuilder.MaxBoundedRepeat}", max is null ? "minLength" : "maxLength");
        }
        return Seq(Literal("\""), Repeat(JsonGrammar.StringChar, min, max), Literal("\""));
    }

    private static int? Bound(JsonElement s, string keyword, string path) =>
        !s.TryGetProperty(keyword, out var v) ? null
            : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n >= 0 ? n
            : throw new GrammarException($"'{keyword}' at {path} must be a non-negative integer", keyword);

    private GrammarExpr Object(JsonElement s, string path)
    {
        var required = new HashSet<string>();
        if (s.TryGetProperty("required", out var req))
        {
            foreach (var r in req.EnumerateArray())
            {
                required.Add(r.GetString() ?? "");
            }
        }
        var props = new List<(string Name, GrammarExpr Member, bool Required)>();
        if (s.TryGetProperty("properties", out var properties))
        {
            foreach (var p in properties.EnumerateObject())
            {
                props.Add((p.Name, Seq(Literal(Compact(p.Name)), Literal(":"), Value(p.Value, $"{path}/properties/{p.Name}")), required.Contains(p.Name)));
            }
        }
        foreach (var name in required)
        {
            if (!props.Any(p => p.Name == name))
            {
                throw new GrammarException($"'required' at {path} names '{name}', which is not in 'properties'", "required");
            }
        }
        // with properties, the members are those alone (as xgrammar's strict mode reads a schema silent on
        // additionalProperties); extra members beside declared ones could repeat a declared name with a value its
        // schema refuses, so they are refused rather than allowed unchecked
        GrammarExpr? extra = null;
        bool hasAdditional = s.TryGetProperty("additionalProperties", out var additional);
        if (props.Count == 0 && additional.ValueKind != JsonValueKind.False)
        {
            var valueSchema = additional.ValueKind is JsonValueKind.Object ? Value(additional, $"{path}/additionalProperties") : AnyValue();
            extra = Seq(JsonGrammar.String, Literal(":"), valueSchema);
        }
        else if (props.Count > 0 && hasAdditional && additional.ValueKind != JsonValueKind.False)
        {
            throw new GrammarException($"'additionalProperties' other than false beside 'properties' (at {path}) is not supported", "additionalProperties");
        }
        // tail(i, first): the members from property i on, with or without a member already written (for the comma)
        var tails = new int[props.Count + 1, 2];
        for (int i = 0; i <= props.Count; i++)
        {
            tails[i, 0] = _builder.NewRule();
            tails[i, 1] = _builder.NewRule();
        }
        for (int first = 0; first < 2; first++)
        {
            var comma = first == 1 ? Empty : Literal(",");
            if (extra is null)
            {
                _builder.Define(tails[props.Count, first], Empty);
            }
            else
            {
                int rest = tails[props.Count, 0];
                _builder.Define(tails[props.Count, first], Choice(Empty, Seq(comma, extra, Rule(rest))));
            }
            for (int i = props.Count - 1; i >= 0; i--)
            {
                var take = Seq(comma, props[i].Member, Rule(tails[i + 1, 0]));
                _builder.Define(tails[i, first], props[i].Required ? take : Choice(take, Rule(tails[i + 1, first])));
            }
        }
        return Seq(Literal("{"), Rule(tails[0, 1]), Literal("}"));
    }

    private GrammarExpr Array(JsonElement s, string path)
    {
        var item = s.TryGetProperty("items", out var items) ? Value(items, $"{path}/items") : AnyValue();
        int min = s.TryGetProperty("minItems", out var mn) ? Count(mn, "minItems", path) : 0;
        int? max = s.TryGetProperty("maxItems", out var mx) ? Count(mx, "maxItems", path) : null;
        if (max < min)
        {
            throw new GrammarException($"'maxItems' at {path} is below 'minItems'", "maxItems");
        }
        if (max == 0)
        {
            return Literal("[]");
        }
        var more = Repeat(Seq(Literal(","), item), Math.Max(min - 1, 0), max - 1);
        var list = Seq(item, more);
        return Seq(Literal("["), min == 0 ? Optional(list) : list, Literal("]"));
    }

    private static int Count(JsonElement e, string keyword, string path) =>
        e.TryGetInt32(out int n) && n >= 0 && n <= GrammarBuilder.MaxBoundedRepeat
            ? n
            : throw new GrammarException($"'{keyword}' at {path} must be an integer from 0 to {GrammarBuilder.MaxBoundedRepeat}", keyword);

    private int Reference(string reference, string path)
    {
        if (_refs.TryGetValue(reference, out int rule))
        {
            return rule;
        }
        JsonElement target;
        if (reference == "#")
        {
            target = _root;
        }
        else if (reference.StartsWith("#/$defs/", StringComparison.Ordinal) && _root.TryGetProperty("$defs", out var defs)
            && defs.TryGetProperty(reference["#/$defs/".Length..], out var d1))
        {
            target = d1;
        }
        else if (reference.StartsWith("#/definitions/", StringComparison.Ordinal) && _root.TryGetProperty("definitions", out var defs2)
            && defs2.TryGetProperty(reference["#/definitions/".Length..], out var d2))
        {
            target = d2;
        }
        else
        {
            throw new GrammarException($"'$ref' '{reference}' at {path} is not a local reference into $defs or definitions", "$ref");
        }
        rule = _builder.NewRule();
        _refs[reference] = rule;
        _builder.Define(rule, Value(target, reference));
        return rule;
    }

    private GrammarExpr AnyValue()
    {
        if (_anyValue < 0)
        {
            _anyValue = _builder.NewRule();
            JsonGrammar.DefineAnyValue(_builder, _anyValue);
        }
        return Rule(_anyValue);
    }

    // compact and minimally escaped, as a model would write it: "é" and "<" as themselves
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Compact(JsonElement value) => Write(w => value.WriteTo(w));

    private static string Compact(string text) => Write(w => w.WriteStringValue(text));

    private static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
