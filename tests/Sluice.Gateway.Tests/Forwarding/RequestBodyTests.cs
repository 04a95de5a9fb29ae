using System.Net;
using System.Text;
using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Tests.Support;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tests.Forwarding;

/// <summary>The completion body read without a tree: what it finds, what it refuses, and the bytes a backend gets.</summary>
public sealed class RequestBodyTests
{
    private static RequestBody Parse(string json)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        return RequestBody.Parse(bytes, bytes.Length);
    }

    private static string Text(ArraySegment<byte> bytes) => Encoding.UTF8.GetString(bytes);

    [Fact]
    public void Parse_TopLevelFields_FindsModelAndStream_NotNestedOnes()
    {
        var body = Parse("""{"messages": [{"role": "user", "content": "hi", "model": "inner", "stream": true}], "model": "outer", "max_tokens": 3}""");
        Assert.Equal("outer", body.Model);
        Assert.False(body.Stream);
        Assert.True(Parse("""{"model": "m", "stream": true}""").Stream);
        Assert.False(Parse("""{"model": "m", "stream": "true"}""").Stream);
        Assert.False(Parse("""{"model": "m", "stream": {"stream": true}}""").Stream);
    }

    [Fact]
    public void ForBackend_TheSameName_IsTheClientsBytesAsSent()
    {
        const string Json = """{ "model" : "m",  "prompt": "caf\u00e9 <b>", "temperature": 1.50 }""";
        var body = Parse(Json);
        Assert.Equal(Json, Text(body.ForBackend("m")));
    }

    [Fact]
    public void ForBackend_AnotherName_ReplacesOnlyTheModelsValue()
    {
        var body = Parse("""{"prompt": "é <b>", "model": "public", "n": 1.50}""");
        Assert.Equal("""{"prompt": "é <b>", "model": "back\u0022end", "n": 1.50}""", Text(body.ForBackend("back\"end")));
        Assert.Equal("""{"prompt": "é <b>", "model": "other", "n": 1.50}""", Text(body.ForBackend("other")));
    }

    [Fact]
    public void Json_IsTheWholeBody()
    {
        var body = Parse("""{"model": "m", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 7}""");
        Assert.Equal(7, (int)body.Json["max_tokens"]!);
        Assert.Equal("hello", (string?)body.Json["messages"]![0]!["content"]);
    }

    [Theory]
    [InlineData("not json", "not valid JSON", null)]
    [InlineData("", "not valid JSON", null)]
    [InlineData("""{"model": "m",}""", "not valid JSON", null)]
    [InlineData("""{"model": "m"} {}""", "not valid JSON", null)]
    [InlineData("""[1, 2""", "not valid JSON", null)]
    [InlineData("""[{"model": "m"}]""", "must be a JSON object", null)]
    [InlineData("""{"prompt": "x"}""", "'model' is required", "model")]
    [InlineData("""{"model": 3}""", "'model' is required", "model")]
    [InlineData("""{"model": ""}""", "'model' is required", "model")]
    [InlineData("""{"model": {"name": "m"}}""", "'model' is required", "model")]
    [InlineData("""{"model": "a", "prompt": "x", "model": "b"}""", "'model' is given more than once", "model")]
    [InlineData("""{"model": "a", "stream": false, "stream": true}""", "'stream' is given more than once", "stream")]
    public void Parse_BadBody_Is400SayingWhy(string json, string why, string? param)
    {
        var e = Assert.Throws<ApiException>(() => Parse(json));
        Assert.Equal(400, e.Status);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
        Assert.Equal(param, e.Param);
    }

    [Fact]
    public async Task Proxy_PublicName_BackendGetsTheClientsBodyWithItsOwnName()
    {
        await using var backend = await FaultyBackend.StartAsync();
        await using var g = await TestGateway.StartAsync($"models:\n  - name: public\n    deployments:\n      - {{url: '{backend.Url}', model: ok, kind: openai}}\n");
        const string Sent = """{ "prompt": "caf\u00e9", "model": "public", "max_tokens": 2 }""";
        using var response = await g.Client.PostAsync("/v1/completions", Requests.Json(Sent));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{ "prompt": "caf\u00e9", "model": "ok", "max_tokens": 2 }""", Assert.Single(backend.Attempts).Body);
    }
}
