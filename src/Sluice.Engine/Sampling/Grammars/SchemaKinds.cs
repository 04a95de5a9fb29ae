using System.Text.Json;

namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// Whether two JSON schemas provably accept no common value, which is when <c>oneOf</c> means the same as <c>anyOf</c>
/// and a grammar's choice holds it exactly: their JSON kinds (object, array, string, number, boolean, null) do not meet,
/// their const/enum values differ, or both are objects with a required property whose const/enum values differ (a
/// discriminator). Anything else counts as overlapping.
/// </summary>
internal sealed class SchemaKinds(Func<string, string, JsonElement> resolve)
{
    private static readonly string[] AllKinds = ["object", "array", "string", "number", "boolean", "null"];

    private sealed record Shape(HashSet<string> Kinds, HashSet<string>? Values);

    public bool Disjoint(JsonElement a, JsonElement b) => Disjoint(a, b, 0);

    private bool Disjoint(JsonElement a, JsonElement b, int depth)
    {
        if (depth > 8)
        {
            return false;
        }
        var sa = ShapeOf(a, 0);
        var sb = ShapeOf(b, 0);
        if (!sa.Kinds.Overlaps(sb.Kinds))
        {
            return true;
        }
        if (sa.Values != null && sb.Values != null)
        {
            return !sa.Values.Overlaps(sb.Values);
        }
        if (sa.Kinds.SetEquals(["object"]) && sb.Kinds.SetEquals(["object"]))
        {
            var ra = Deref(a, 0);
            var rb = Deref(b, 0);
            foreach (var name in Required(ra).Intersect(Required(rb)))
            {
                if (Property(ra, name) is { } pa && Property(rb, name) is { } pb && Disjoint(pa, pb, depth + 1))
                {
                    return true;
                }
            }
        }
        return false;
    }

    private Shape ShapeOf(JsonElement s, int depth)
    {
        s = Deref(s, depth);
        if (s.ValueKind != JsonValueKind.Object || depth > 16)
        {
            return new Shape([.. AllKinds], null);
        }
        if (s.TryGetProperty("const", out var c))
        {
            return new Shape([KindOf(c)], [JsonSchemaCompiler.Compact(c)]);
        }
        if (s.TryGetProperty("enum", out var e) && e.ValueKind == JsonValueKind.Array)
        {
            return new Shape([.. e.EnumerateArray().Select(KindOf)], [.. e.EnumerateArray().Select(JsonSchemaCompiler.Compact)]);
        }
        foreach (var combinator in new[] { "anyOf", "oneOf" })
        {
            if (s.TryGetProperty(combinator, out var branches) && branches.ValueKind == JsonValueKind.Array)
            {
                var shapes = branches.EnumerateArray().Select(b => ShapeOf(b, depth + 1)).ToList();
                return new Shape([.. shapes.SelectMany(x => x.Kinds)],
                    shapes.All(x => x.Values != null) ? [.. shapes.SelectMany(x => x.Values!)] : null);
            }
        }
        if (s.TryGetProperty("type", out var type))
        {
            var names = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString() ?? "") : [type.GetString() ?? ""];
            return new Shape([.. names.Select(n => n == "integer" ? "number" : n)], null);
        }
        if (s.TryGetProperty("properties", out _))
        {
            return new Shape(["object"], null);
        }
        return s.TryGetProperty("items", out _) ? new Shape(["array"], null) : new Shape([.. AllKinds], null);
    }

    private JsonElement Deref(JsonElement s, int depth)
    {
        while (depth++ < 16 && s.ValueKind == JsonValueKind.Object && s.TryGetProperty("$ref", out var r) && r.ValueKind == JsonValueKind.String)
        {
            s = resolve(r.GetString()!, "oneOf");
        }
        return s;
    }

    private static IEnumerable<string> Required(JsonElement s) =>
        s.ValueKind == JsonValueKind.Object && s.TryGetProperty("required", out var r) && r.ValueKind == JsonValueKind.Array
            ? r.EnumerateArray().Select(x => x.GetString() ?? "")
            : [];

    private static JsonElement? Property(JsonElement s, string name) =>
        s.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object && p.TryGetProperty(name, out var v) ? v : null;

    private static string KindOf(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };
}
