using System.Text;
using Sluice.Engine.Sampling.Grammars;

namespace Sluice.Engine.Tests.Sampling.Grammars;

/// <summary>
/// The keywords pattern, format, minimum/maximum/exclusive*, oneOf and uniqueItems in the style of the JSON-Schema test
/// suite: per schema, instances with whether they are valid, each run through the grammar matcher (instances are written
/// compact, as the grammar writes them).
/// </summary>
public sealed class JsonSchemaKeywordSuiteTests
{
    private static readonly TokenTrie Bytes = new(256, id => [(byte)id], []);

    private static bool Accepts(string schema, string instance) =>
        new GrammarMatcher(JsonSchemaCompiler.Compile(schema), Bytes).Accepts(Encoding.UTF8.GetBytes(instance));

    [Theory]
    // pattern: unanchored, found anywhere
    [InlineData("""{"type":"string","pattern":"a+b"}""", "\"aab\"", true)]
    [InlineData("""{"type":"string","pattern":"a+b"}""", "\"xxaabyy\"", true)]
    [InlineData("""{"type":"string","pattern":"a+b"}""", "\"ba\"", false)]
    // anchored at both ends
    [InlineData("""{"type":"string","pattern":"^[A-Z]{2}-\\d{3}$"}""", "\"AB-123\"", true)]
    [InlineData("""{"type":"string","pattern":"^[A-Z]{2}-\\d{3}$"}""", "\"AB-1234\"", false)]
    [InlineData("""{"type":"string","pattern":"^[A-Z]{2}-\\d{3}$"}""", "\"xAB-123\"", false)]
    [InlineData("""{"type":"string","pattern":"^ab"}""", "\"abzz\"", true)]
    [InlineData("""{"type":"string","pattern":"^ab"}""", "\"zab\"", false)]
    // characters JSON escapes are written escaped
    [InlineData("""{"type":"string","pattern":"^a\"b$"}""", "\"a\\\"b\"", true)]
    [InlineData("""{"type":"string","pattern":"^a\\\\b$"}""", "\"a\\\\b\"", true)]
    [InlineData("""{"type":"string","pattern":"^a\\nb$"}""", "\"a\\nb\"", true)]
    [InlineData("""{"type":"string","pattern":"^a\\nb$"}""", "\"a\nb\"", false)]
    [InlineData("""{"type":"string","pattern":"^[^a]$"}""", "\"\\u0001\"", true)]
    [InlineData("""{"type":"string","pattern":"^(cat|dog)s?$"}""", "\"dogs\"", true)]
    [InlineData("""{"type":"string","pattern":"^(cat|dog)s?$"}""", "\"cow\"", false)]
    public void Pattern_Instances(string schema, string instance, bool valid) => Assert.Equal(valid, Accepts(schema, instance));

    [Theory]
    [InlineData("(?=a)b", "(?")]
    [InlineData("\\bword", "\\b")]
    [InlineData("(a)\\1", "\\1")]
    [InlineData("a$b", "$")]
    [InlineData("(a$)", "$")]
    public void Pattern_UnsupportedConstruct_RefusedNamingPatternAndTheConstruct(string regex, string construct)
    {
        var schema = System.Text.Json.JsonSerializer.Serialize(new { type = "string", pattern = regex });
        var ex = Assert.Throws<GrammarException>(() => JsonSchemaCompiler.Compile(schema));
        Assert.Equal("pattern", ex.Keyword);
        Assert.Contains(construct, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("date", "\"2024-02-29\"", true)]
    [InlineData("date", "\"2000-02-29\"", true)]
    [InlineData("date", "\"1900-02-29\"", false)]
    [InlineData("date", "\"2023-02-29\"", false)]
    [InlineData("date", "\"2023-04-31\"", false)]
    [InlineData("date", "\"2023-12-31\"", true)]
    [InlineData("date", "\"2023-13-01\"", false)]
    [InlineData("date", "\"2023-1-01\"", false)]
    [InlineData("time", "\"08:30:06Z\"", true)]
    [InlineData("time", "\"08:30:06.283185+01:00\"", true)]
    [InlineData("time", "\"24:00:00Z\"", false)]
    [InlineData("time", "\"08:30:06\"", false)]
    [InlineData("date-time", "\"1963-06-19T08:30:06.283185Z\"", true)]
    [InlineData("date-time", "\"1963-06-19t08:30:06z\"", true)]
    [InlineData("date-time", "\"1963-06-19 08:30:06Z\"", false)]
    [InlineData("date-time", "\"1990-02-31T15:59:59.123-08:00\"", false)]
    [InlineData("uuid", "\"2eb8aa08-AA98-11ea-B4Aa-73B441D16380\"", true)]
    [InlineData("uuid", "\"2eb8aa08-aa98-11ea-b4aa-73b441d1638\"", false)]
    [InlineData("uuid", "\"2eb8aa08aa9811eab4aa73b441d16380\"", false)]
    [InlineData("email", "\"joe.bloggs@example.com\"", true)]
    [InlineData("email", "\"te~st@example.com\"", true)]
    [InlineData("email", "\".test@example.com\"", false)]
    [InlineData("email", "\"te..st@example.com\"", false)]
    [InlineData("email", "\"2962\"", false)]
    [InlineData("ipv4", "\"192.168.0.1\"", true)]
    [InlineData("ipv4", "\"256.256.256.256\"", false)]
    [InlineData("ipv4", "\"127.0.0.0.1\"", false)]
    [InlineData("ipv4", "\"087.10.0.1\"", false)]
    public void Format_Instances(string format, string instance, bool valid) =>
        Assert.Equal(valid, Accepts($$"""{"type":"string","format":"{{format}}"}""", instance));

    [Theory]
    [InlineData("""{"type":"integer","minimum":-5,"maximum":120}""", "-5", true)]
    [InlineData("""{"type":"integer","minimum":-5,"maximum":120}""", "-6", false)]
    [InlineData("""{"type":"integer","minimum":-5,"maximum":120}""", "120", true)]
    [InlineData("""{"type":"integer","minimum":-5,"maximum":120}""", "121", false)]
    [InlineData("""{"type":"integer","exclusiveMinimum":0}""", "0", false)]
    [InlineData("""{"type":"integer","exclusiveMinimum":0}""", "1", true)]
    [InlineData("""{"type":"integer","exclusiveMinimum":0}""", "98765432109876", true)]
    [InlineData("""{"type":"integer","exclusiveMaximum":-1.5}""", "-2", true)]
    [InlineData("""{"type":"integer","exclusiveMaximum":-1.5}""", "-1", false)]
    [InlineData("""{"type":"integer","minimum":1.5}""", "1", false)]
    [InlineData("""{"type":"integer","minimum":1.5}""", "2", true)]
    [InlineData("""{"type":"number","minimum":0,"maximum":1}""", "0", true)]
    [InlineData("""{"type":"number","minimum":0,"maximum":1}""", "0.75", true)]
    [InlineData("""{"type":"number","minimum":0,"maximum":1}""", "1", true)]
    [InlineData("""{"type":"number","minimum":0,"maximum":1}""", "1.5", false)]
    [InlineData("""{"type":"number","minimum":0,"maximum":1}""", "-0.5", false)]
    [InlineData("""{"type":"number","exclusiveMinimum":-2,"exclusiveMaximum":2}""", "-1.99", true)]
    [InlineData("""{"type":"number","exclusiveMinimum":-2,"exclusiveMaximum":2}""", "-2", false)]
    [InlineData("""{"type":"number","exclusiveMinimum":-2,"exclusiveMaximum":2}""", "2", false)]
    [InlineData("""{"type":"number","exclusiveMinimum":-2,"exclusiveMaximum":2}""", "1.999", true)]
    [InlineData("""{"type":"number","exclusiveMinimum":-2,"exclusiveMaximum":2}""", "-2.5", false)]
    [InlineData("""{"type":"number","maximum":-3}""", "-3", true)]
    [InlineData("""{"type":"number","maximum":-3}""", "-3.25", true)]
    [InlineData("""{"type":"number","maximum":-3}""", "-2.5", false)]
    public void Bounds_Instances(string schema, string instance, bool valid) => Assert.Equal(valid, Accepts(schema, instance));

    [Theory]
    [InlineData(-40L, 40L)]
    [InlineData(0L, 9L)]
    [InlineData(7L, 213L)]
    [InlineData(-213L, -7L)]
    [InlineData(null, 17L)]
    [InlineData(-17L, null)]
    [InlineData(100L, 100L)]
    public void Bounds_IntegerRange_AcceptsExactlyTheIntegersInRangeByBruteForce(long? lo, long? hi)
    {
        var schema = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object?> { ["type"] = "integer", ["minimum"] = lo, ["maximum"] = hi }
            .Where(p => p.Value != null).ToDictionary());
        var matcher = JsonSchemaCompiler.Compile(schema);
        for (int v = -300; v <= 300; v++)
        {
            bool inRange = (lo is null || v >= lo) && (hi is null || v <= hi);
            Assert.True(inRange == new GrammarMatcher(matcher, Bytes).Accepts(Encoding.ASCII.GetBytes(v.ToString(System.Globalization.CultureInfo.InvariantCulture))), $"{v}");
        }
        Assert.False(new GrammarMatcher(matcher, Bytes).Accepts("-0"u8.ToArray()));
        Assert.False(new GrammarMatcher(matcher, Bytes).Accepts("007"u8.ToArray()));
    }

    [Theory]
    [InlineData("""{"type":"integer","minimum":5,"maximum":4}""", "maximum")]
    [InlineData("""{"type":"number","maximum":2.5}""", "maximum")]
    [InlineData("""{"type":"integer","minimum":"1"}""", "minimum")]
    [InlineData("""{"type":"integer","exclusiveMinimum":true}""", "exclusiveMinimum")]
    [InlineData("""{"type":"integer","maximum":1e30}""", "maximum")]
    public void Bounds_Unrepresentable_RefusedNamingTheKeyword(string schema, string keyword) =>
        Assert.Equal(keyword, Assert.Throws<GrammarException>(() => JsonSchemaCompiler.Compile(schema)).Keyword);

    private const string Shapes = """
        {"oneOf":[
          {"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number"}},"required":["kind","r"]},
          {"type":"object","properties":{"kind":{"const":"square"},"side":{"type":"integer"}},"required":["kind","side"]},
          {"type":"string"},{"type":"null"}]}
        """;

    [Theory]
    [InlineData("""{"kind":"circle","r":1.5}""", true)]
    [InlineData("""{"kind":"square","side":2}""", true)]
    [InlineData("""{"kind":"square","r":2}""", false)]
    [InlineData("\"s\"", true)]
    [InlineData("null", true)]
    [InlineData("1", false)]
    public void OneOf_DisjointBranches_Instances(string instance, bool valid) => Assert.Equal(valid, Accepts(Shapes, instance));

    [Theory]
    [InlineData("""{"oneOf":[{"type":"integer"},{"type":"number"}]}""")]
    [InlineData("""{"oneOf":[{"enum":["a","b"]},{"enum":["b","c"]}]}""")]
    [InlineData("""{"oneOf":[{"type":"string"},{}]}""")]
    [InlineData("""{"oneOf":[{"type":"object","properties":{"a":{"type":"string"}}},{"type":"object","properties":{"b":{"type":"string"}}}]}""")]
    public void OneOf_OverlappingBranches_Refused(string schema) =>
        Assert.Equal("oneOf", Assert.Throws<GrammarException>(() => JsonSchemaCompiler.Compile(schema)).Keyword);

    [Theory]
    [InlineData("""{"oneOf":[{"enum":["a","b"]},{"enum":["c"]}]}""", "\"c\"", true)]
    [InlineData("""{"oneOf":[{"enum":["a","b"]},{"enum":["c"]}]}""", "\"d\"", false)]
    public void OneOf_DisjointEnums_Instances(string schema, string instance, bool valid) => Assert.Equal(valid, Accepts(schema, instance));

    private const string Tags = """{"type":"array","items":{"enum":["red","green","blue"]},"uniqueItems":true}""";

    [Theory]
    [InlineData("[]", true)]
    [InlineData("""["red","blue"]""", true)]
    [InlineData("""["blue","green","red"]""", true)]
    [InlineData("""["red","red"]""", false)]
    [InlineData("""["red","green","red"]""", false)]
    [InlineData("""["pink"]""", false)]
    public void UniqueItems_FiniteItems_Instances(string instance, bool valid) => Assert.Equal(valid, Accepts(Tags, instance));

    [Theory]
    [InlineData("""{"type":"array","items":{"type":"boolean"},"uniqueItems":true,"minItems":2}""", "[true,false]", true)]
    [InlineData("""{"type":"array","items":{"type":"boolean"},"uniqueItems":true,"minItems":2}""", "[true]", false)]
    [InlineData("""{"type":"array","items":{"type":"boolean"},"uniqueItems":true}""", "[false,false]", false)]
    [InlineData("""{"type":"array","items":{"type":"string"},"uniqueItems":true,"maxItems":1}""", "[\"a\"]", true)]
    [InlineData("""{"type":"array","items":{"type":"string"},"uniqueItems":false}""", "[\"a\",\"a\"]", true)]
    public void UniqueItems_Instances(string schema, string instance, bool valid) => Assert.Equal(valid, Accepts(schema, instance));

    [Theory]
    [InlineData("""{"type":"array","items":{"type":"string"},"uniqueItems":true}""")]
    [InlineData("""{"type":"array","items":{"enum":[1,2,3,4,5,6,7,8,9]},"uniqueItems":true}""")]
    public void UniqueItems_NotEnforceable_Refused(string schema) =>
        Assert.Equal("uniqueItems", Assert.Throws<GrammarException>(() => JsonSchemaCompiler.Compile(schema)).Keyword);
}
