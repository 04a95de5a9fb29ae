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
/// <c>items</c>, <c>minItems</c>, <c>maxItems</c>, <c>minLength</c>, <c>maxLength</c>, <c>pattern</c> (<see cref="RegexCompiler.JsonStringContent"/>),
/// <c>format</c> (<see cref="StringFormats"/>), <c>minimum</c>/<c>maximum</c>/<c>exclusiveMinimum</c>/<c>exclusiveMaximum</c>
/// (<see cref="NumberRanges"/>: any bound on integers, integer bounds on numbers), <c>oneOf</c> (when its branches provably
/// exclude each other, <see cref="SchemaKinds"/>), <c>uniqueItems</c> (when items come from a small finite set),
/// <c>anyOf</c>, local <c>$ref</c> into <c>$defs</c> or
/// <c>definitions</c> (recursion included), and the annotations (<c>title</c>, <c>description</c>, <c>$schema</c>,
/// <c>$id</c>, <c>default</c>, <c>examples</c>). Any other keyword is refused with a <see cref="GrammarException"/>
/// naming it, never ignored: a constraint the output would not keep is worse than an error.
/// </summary>
public sealed class JsonSchemaCompiler
{
    private static readonly HashSet<string> Annotations = ["title", "description", "$schema", "$id", "default", "examples", "$comment", "$defs", "definitions"];

    private static readonly HashSet<string> Supported = ["type", "properties", "required", "additionalProperties", "enum", "const",
        "items", "minItems", "maxItems", "anyOf", "$ref", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "oneOf", "uniqueItems"];

    // keywords that constrain one type: refused where the schema names no type, since an unconstrained value would ignore them
    private static readonly string[] TypeKeywords = ["minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "minItems", "maxItems", "uniqueItems", "required", "additionalProperties"];

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
        if (s.TryGetProperty("oneOf", out var oneOf))
        {
            if (oneOf.ValueKind != JsonValueKind.Array || oneOf.GetArrayLength() == 0)
            {
                throw new GrammarException($"'oneOf' at {path} must be a non-empty array", "oneOf");
            }
            var branches = oneOf.EnumerateArray().ToArray();
            var kinds = new SchemaKinds(Resolve);
            for (int i = 0; i < branches.Length; i++)
            {
                for (int j = i + 1; j < branches.Length; j++)
                {
                    if (!kinds.Disjoint(branches[i], branches[j]))
                    {
                        throw new GrammarException($"'oneOf' at {path}: branches {i} and {j} may both match a value, which a grammar cannot exclude; " +
                            "give them different types, consts or a const discriminator property, or use anyOf", "oneOf");
                    }
                }
            }
            return Choice([.. branches.Select((sub, i) => Value(sub, $"{path}/oneOf/{i}"))]);
        }
        if (!s.TryGetProperty("type", out var type))
        {
            if (s.TryGetProperty("properties", out _))
            {
                return Object(s, path);
            }
            if (s.TryGetProperty("items", out _))
            {
                return Array(s, path);
            }
            foreach (var keyword in TypeKeywords)
            {
                if (s.TryGetProperty(keyword, out _))
                {
                    throw new GrammarException($"'{keyword}' at {path} needs a 'type' beside it", keyword);
                }
            }
            return AnyValue();
        }
        var types = type.ValueKind == JsonValueKind.Array ? [.. type.EnumerateArray().Select(t => t.GetString() ?? "")] : new[] { type.GetString() ?? "" };
        return Choice([.. types.Distinct().Select(t => OfType(t, s, path))]);
    }

    private GrammarExpr OfType(string type, JsonElement s, string path) => type switch
    {
        "object" => Object(s, path),
        "array" => Array(s, path),
        "string" => String(s, path),
        "number" => Number(s, path, integer: false),
        "integer" => Number(s, path, integer: true),
        "boolean" => Choice(Literal("true"), Literal("false")),
        "null" => Literal("null"),
        _ => throw new GrammarException($"'type' at {path} names '{type}', not a JSON schema type", "type"),
    };

    /// <summary>A string, its length in characters held to minLength and maxLength (an escape is one character).</summary>
    private static GrammarExpr String(JsonElement s, string path)
    {
        bool hasPattern = s.TryGetProperty("pattern", out var pattern), hasFormat = s.TryGetProperty("format", out var format);
        if (hasPattern || hasFormat)
        {
            return Patterned(s, path, hasPattern ? pattern : null, hasFormat ? format : null);
        }
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

    /// <summary>A string whose value matches <c>pattern</c> or <c>format</c> (one of them, without length bounds).</summary>
    private static GrammarExpr Patterned(JsonElement s, string path, JsonElement? pattern, JsonElement? format)
    {
        if (pattern != null && format != null)
        {
            throw new GrammarException($"'pattern' beside 'format' (at {path}) is not supported", "format");
        }
        foreach (var keyword in new[] { "minLength", "maxLength" })
        {
            if (s.TryGetProperty(keyword, out _))
            {
                throw new GrammarException($"'{keyword}' beside '{(pattern != null ? "pattern" : "format")}' (at {path}) is not supported", keyword);
            }
        }
        string regex;
        string keywordName = pattern != null ? "pattern" : "format";
        if (pattern is { } p)
        {
            regex = p.ValueKind == JsonValueKind.String ? p.GetString()! : throw new GrammarException($"'pattern' at {path} must be a string", "pattern");
        }
        else
        {
            string name = format!.Value.ValueKind == JsonValueKind.String ? format.Value.GetString()! : "";
            regex = StringFormats.Pattern(name)
                ?? throw new GrammarException($"'format' \"{name}\" at {path} is not supported (supported: {string.Join(", ", StringFormats.Names)})", "format");
        }
        try
        {
            return Seq(Literal("\""), RegexCompiler.JsonStringContent(regex), Literal("\""));
        }
        catch (GrammarException ex)
        {
            throw new GrammarException($"'{keywordName}' at {path}: {ex.Message}", keywordName);
        }
    }

    /// <summary>A number or integer held to minimum/maximum/exclusiveMinimum/exclusiveMaximum.</summary>
    private static GrammarExpr Number(JsonElement s, string path, bool integer)
    {
        var min = Limit(s, "minimum", path);
        var max = Limit(s, "maximum", path);
        var xmin = Limit(s, "exclusiveMinimum", path);
        var xmax = Limit(s, "exclusiveMaximum", path);
        if (min is null && max is null && xmin is null && xmax is null)
        {
            return integer ? JsonGrammar.Integer : JsonGrammar.Number;
        }
        GrammarExpr? expr;
        if (integer)
        {
            long? lo = Max(min is { } a ? Whole(Math.Ceiling(a), "minimum", path) : null, xmin is { } b ? Whole(Math.Floor(b) + 1, "exclusiveMinimum", path) : null);
            long? hi = Min(max is { } c ? Whole(Math.Floor(c), "maximum", path) : null, xmax is { } d ? Whole(Math.Ceiling(d) - 1, "exclusiveMaximum", path) : null);
            expr = NumberRanges.Integers(lo, hi);
        }
        else
        {
            foreach (var (value, name) in new[] { (min, "minimum"), (max, "maximum"), (xmin, "exclusiveMinimum"), (xmax, "exclusiveMaximum") })
            {
                if (value is { } v && v != Math.Floor(v))
                {
                    throw new GrammarException($"'{name}' {v} at {path}: a number bound must be a whole number to be held by the grammar", name);
                }
            }
            // the tighter of the inclusive and exclusive bound; at equal values the exclusive one
            bool loX = xmin != null && (min is null || xmin >= min), hiX = xmax != null && (max is null || xmax <= max);
            long? lo = loX ? Whole(xmin!.Value, "exclusiveMinimum", path) : min is { } a ? Whole(a, "minimum", path) : null;
            long? hi = hiX ? Whole(xmax!.Value, "exclusiveMaximum", path) : max is { } c ? Whole(c, "maximum", path) : null;
            expr = NumberRanges.Numbers(lo, loX, hi, hiX);
        }
        return expr ?? throw new GrammarException($"no {(integer ? "integer" : "number")} satisfies the bounds at {path}", max != null ? "maximum" : "exclusiveMaximum");
    }

    private static decimal? Limit(JsonElement s, string keyword, string path) =>
        !s.TryGetProperty(keyword, out var v) ? null
            : v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out decimal d) ? d
            : throw new GrammarException($"'{keyword}' at {path} must be a number", keyword);

    private const long MaxBound = 1_000_000_000_000_000_000;

    private static long Whole(decimal v, string keyword, string path) =>
        Math.Abs(v) <= MaxBound ? (long)v : throw new GrammarException($"'{keyword}' at {path} is beyond ±10^18", keyword);

    private static long? Max(long? a, long? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);

    private static long? Min(long? a, long? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

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
        if (s.TryGetProperty("uniqueItems", out var unique) && unique.ValueKind == JsonValueKind.True && max is null or > 1)
        {
            return UniqueArray(items, path, min, max);
        }
        if (s.TryGetProperty("uniqueItems", out var u) && u.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            throw new GrammarException($"'uniqueItems' at {path} must be true or false", "uniqueItems");
        }
        var more = Repeat(Seq(Literal(","), item), Math.Max(min - 1, 0), max - 1);
        var list = Seq(item, more);
        return Seq(Literal("["), min == 0 ? Optional(list) : list, Literal("]"));
    }

    /// <summary>Largest set of item values a unique array is written over: one grammar rule per subset of them.</summary>
    public const int MaxUniqueValues = 8;

    /// <summary>
    /// An array of distinct items when the items are a finite set of at most <see cref="MaxUniqueValues"/> values
    /// (enum, const, boolean): one rule per set of values already written, each offering only the others.
    /// </summary>
    private GrammarExpr UniqueArray(JsonElement items, string path, int min, int? max)
    {
        var values = FiniteValues(items)
            ?? throw new GrammarException($"'uniqueItems' at {path} can be held only when 'items' is an enum, a const or boolean (at most {MaxUniqueValues} values)", "uniqueItems");
        if (values.Count > MaxUniqueValues)
        {
            throw new GrammarException($"'uniqueItems' at {path} over {values.Count} item values is not supported (at most {MaxUniqueValues})", "uniqueItems");
        }
        int k = values.Count;
        int top = Math.Min(max ?? k, k);
        if (min > k)
        {
            throw new GrammarException($"'minItems' at {path} asks for more unique items than the {k} values 'items' allows", "minItems");
        }
        var rules = new int[1 << k];
        for (int set = 0; set < rules.Length; set++)
        {
            rules[set] = _builder.NewRule();
        }
        for (int set = 0; set < rules.Length; set++)
        {
            int count = System.Numerics.BitOperations.PopCount((uint)set);
            var options = new List<GrammarExpr>();
            if (count >= min)
            {
                options.Add(Literal("]"));
            }
            if (count < top)
            {
                for (int v = 0; v < k; v++)
                {
                    if ((set & (1 << v)) == 0)
                    {
                        options.Add(Seq(Literal(count == 0 ? "" : ","), Literal(values[v]), Rule(rules[set | (1 << v)])));
                    }
                }
            }
            _builder.Define(rules[set], options.Count == 0 ? Literal("]") : Choice([.. options]));
        }
        return Seq(Literal("["), Rule(rules[0]));
    }

    /// <summary>The compact texts of the values a schema allows when it is a finite set (enum, const, boolean), else null.</summary>
    private static List<string>? FiniteValues(JsonElement s)
    {
        if (s.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        if (s.TryGetProperty("const", out var c))
        {
            return [Compact(c)];
        }
        if (s.TryGetProperty("enum", out var e) && e.ValueKind == JsonValueKind.Array)
        {
            return [.. e.EnumerateArray().Select(Compact).Distinct()];
        }
        return s.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "boolean" ? ["true", "false"] : null;
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
        var target = Resolve(reference, path);
        rule = _builder.NewRule();
        _refs[reference] = rule;
        _builder.Define(rule, Value(target, reference));
        return rule;
    }

    /// <summary>The schema a local reference names.</summary>
    private JsonElement Resolve(string reference, string path)
    {
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
        return target;
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

    internal static string Compact(JsonElement value) => Write(w => value.WriteTo(w));

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
