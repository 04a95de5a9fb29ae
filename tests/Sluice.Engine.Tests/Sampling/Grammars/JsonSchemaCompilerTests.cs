using System.Text;
using Sluice.Engine.Sampling.Grammars;

namespace Sluice.Engine.Tests.Sampling.Grammars;

public sealed class JsonSchemaCompilerTests
{
    // a vocabulary of the 256 single bytes: the matcher then reads instances byte by byte
    private static readonly TokenTrie Bytes = new(256, id => [(byte)id], []);

    private static bool Accepts(string schema, string instance) =>
        new GrammarMatcher(JsonSchemaCompiler.Compile(schema), Bytes).Accepts(Encoding.UTF8.GetBytes(instance));

    [Theory]
    [InlineData("""{"type":"string"}""", "\"\"", true)]
    [InlineData("""{"type":"string"}""", "\"héllo \\\"q\\\" \\u00e9 😀\"", true)]
    [InlineData("""{"type":"string"}""", "\"a\nb\"", false)]
    [InlineData("""{"type":"string"}""", "\"\\x\"", false)]
    [InlineData("""{"type":"string"}""", "\"open", false)]
    [InlineData("""{"type":"string"}""", "12", false)]
    [InlineData("""{"type":"integer"}""", "-120", true)]
    [InlineData("""{"type":"integer"}""", "0", true)]
    [InlineData("""{"type":"integer"}""", "012", false)]
    [InlineData("""{"type":"integer"}""", "1.5", false)]
    [InlineData("""{"type":"number"}""", "-0.25e+10", true)]
    [InlineData("""{"type":"number"}""", "3", true)]
    [InlineData("""{"type":"number"}""", "1.", false)]
    [InlineData("""{"type":"number"}""", ".5", false)]
    [InlineData("""{"type":"boolean"}""", "true", true)]
    [InlineData("""{"type":"boolean"}""", "false", true)]
    [InlineData("""{"type":"boolean"}""", "null", false)]
    [InlineData("""{"type":"null"}""", "null", true)]
    [InlineData("""{"type":"null"}""", "0", false)]
    [InlineData("""{"type":["string","null"]}""", "null", true)]
    [InlineData("""{"type":["string","null"]}""", "\"x\"", true)]
    [InlineData("""{"type":["string","null"]}""", "1", false)]
    public void Types_Instances_AcceptedExactlyWhenValid(string schema, string instance, bool valid) =>
        Assert.Equal(valid, Accepts(schema, instance));

    [Theory]
    [InlineData("""{"type":"string","maxLength":3}""", "\"abc\"", true)]
    [InlineData("""{"type":"string","maxLength":3}""", "\"abcd\"", false)]
    [InlineData("""{"type":"string","maxLength":3}""", "\"é\\n😀\"", true)]
    [InlineData("""{"type":"string","minLength":2}""", "\"a\"", false)]
    [InlineData("""{"type":"string","minLength":2}""", "\"ab\"", true)]
    [InlineData("""{"type":"string","minLength":1,"maxLength":2}""", "\"\"", false)]
    [InlineData("""{"type":"string","minLength":1,"maxLength":2}""", "\"xy\"", true)]
    [InlineData("""{"type":["string","null"],"maxLength":1}""", "null", true)]
    public void StringLength_Instances_AcceptedExactlyWhenValid(string schema, string instance, bool valid) =>
        Assert.Equal(valid, Accepts(schema, instance));

    [Theory]
    [InlineData("""{"type":"string","minLength":3,"maxLength":2}""", "maxLength")]
    [InlineData("""{"type":"string","maxLength":-1}""", "maxLength")]
    [InlineData("""{"type":"string","minLength":"2"}""", "minLength")]
    public void StringLength_Malformed_IsRefusedNamingTheKeyword(string schema, string keyword) =>
        Assert.Equal(keyword, Assert.Throws<GrammarException>(() => JsonSchemaCompiler.Compile(schema)).Keyword);

    private const string Person = """
        {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},
         "required":["name","age"],"additionalProperties":false}
        """;

    [Theory]
    [InlineData("""{"name":"a","age":3}""", true)]
    [InlineData("""{"name":"a","age":3,"tags":["x","y"]}""", true)]
    [InlineData("""{"name":"a","age":3,"tags":[]}""", true)]
    [InlineData("""{"name":"a"}""", false)]
    [InlineData("""{"age":3}""", false)]
    [InlineData("""{"name":"a","age":3,"other":1}""", false)]
    [InlineData("""{"name":"a","age":"3"}""", false)]
    [InlineData("""{"name":"a","age":3,"tags":[1]}""", false)]
    [InlineData("""{"name":"a","age":3,}""", false)]
    public void Object_PropertiesRequiredAdditionalFalse_Enforced(string instance, bool valid) =>
        Assert.Equal(valid, Accepts(Person, instance));

    [Theory]
    [InlineData("""{}""", true)]
    [InlineData("""{"b":true}""", true)]
    [InlineData("""{"a":1,"b":false}""", true)]
    [InlineData("""{"b":false,"a":1}""", false)]
    [InlineData("""{"a":1,"b":false,"zz":1}""", false)]
    [InlineData("""{"a":1,}""", false)]
    [InlineData("""{,"b":true}""", false)]
    public void Object_OptionalProperties_CommasRightWhateverIsLeftOut(string instance, bool valid) =>
        Assert.Equal(valid, Accepts("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"boolean"}}}""", instance));

    [Theory]
    [InlineData("""{"x":1,"y":2}""", true)]
    [InlineData("""{"x":"no"}""", false)]
    public void Object_AdditionalPropertiesSchema_ValuesChecked(string instance, bool valid) =>
        Assert.Equal(valid, Accepts("""{"type":"object","additionalProperties":{"type":"integer"}}""", instance));

    [Theory]
    [InlineData("[1]", false)]
    [InlineData("[1,2]", true)]
    [InlineData("[1,2,3]", true)]
    [InlineData("[1,2,3,4]", false)]
    [InlineData("[]", false)]
    public void Array_MinItemsMaxItems_Bounded(string instance, bool valid) =>
        Assert.Equal(valid, Accepts("""{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3}""", instance));

    [Theory]
    [InlineData("\"red\"", true)]
    [InlineData("2", true)]
    [InlineData("{\"a\":[null]}", true)]
    [InlineData("\"blue\"", false)]
    [InlineData("{\"a\":[]}", false)]
    public void Enum_AnyJsonValues_OnlyThoseAccepted(string instance, bool valid) =>
        Assert.Equal(valid, Accepts("""{"enum":["red",2,{"a":[null]}]}""", instance));

    [Theory]
    [InlineData("\"é<x>\"", true)]
    [InlineData("\"e\"", false)]
    public void Const_Value_WrittenCompactAndUnescaped(string instance, bool valid) =>
        Assert.Equal(valid, Accepts("""{"const":"é<x>"}""", instance));

    [Theory]
    [InlineData("\"s\"", true)]
    [InlineData("[1,2]", true)]
    [InlineData("true", false)]
    public void AnyOf_Alternatives_EachAccepted(string instance, bool valid) =>
        Assert.Equal(valid, Accepts("""{"anyOf":[{"type":"string"},{"type":"array","items":{"type":"integer"}}]}""", instance));

    [Theory]
    [InlineData("""{"v":1,"next":{"v":2,"next":null}}""", true)]
    [InlineData("""{"v":1,"next":{"v":"2","next":null}}""", false)]
    public void Ref_RecursiveDefinition_Nests(string instance, bool valid) =>
        Assert.Equal(valid, Accepts("""
            {"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
             "next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["v","next"],"additionalProperties":false}}}
            """, instance));

    [Theory]
    [InlineData("""{"type":"array","uniqueItems":true}""", "uniqueItems")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"number","minimum":0.5}}}""", "minimum")]
    [InlineData("""{"oneOf":[{"type":"string"},{"type":"string","maxLength":3}]}""", "oneOf")]
    [InlineData("""{"type":"string","pattern":"(?=a)b"}""", "pattern")]
    [InlineData("""{"type":"string","format":"hostname"}""", "format")]
    [InlineData("""{"minimum":3}""", "minimum")]
    [InlineData("""{"type":"text"}""", "type")]
    [InlineData("""{"type":"object","properties":{"a":{}},"additionalProperties":true}""", "additionalProperties")]
    public void Compile_UnsupportedKeyword_RefusedNamingIt(string schema, string keyword)
    {
        var ex = Assert.Throws<GrammarException>(() => JsonSchemaCompiler.Compile(schema));
        Assert.Equal(keyword, ex.Keyword);
        Assert.Contains(keyword, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"a":[1,{"b":"c"}],"d":null}""", true)]
    [InlineData("{}", true)]
    [InlineData("[1]", false)]
    [InlineData("""{"a" : 1}""", false)]
    public void AnyObject_JsonObjects_AcceptedCompact(string instance, bool valid) =>
        Assert.Equal(valid, new GrammarMatcher(JsonGrammar.AnyObject(), Bytes).Accepts(Encoding.UTF8.GetBytes(instance)));
}
