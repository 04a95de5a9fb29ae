using System.Text.Json;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Routes.Responses;

/// <summary>POST /v1/responses against the tiny model: the response object, its event stream, and what it refuses by name.</summary>
public sealed class ResponsesRouteTests
{
    [Fact]
    public async Task Responses_StreamedEvents_AreNumberedAndEndWithTheWholeResponse()
    {
        await using var t = await TestServer.StartAsync();
        const string body = """{"input":[{"role":"user","content":[{"type":"input_text","text":"Hi"}]}],"max_output_tokens":5,"temperature":0}""";
        var (status, whole, _) = await t.PostJsonAsync("/v1/responses", body);
        Assert.Equal(200, status);
        Assert.Equal("response", whole.GetProperty("object").GetString());
        Assert.Equal(5, whole.GetProperty("usage").GetProperty("output_tokens").GetInt32());

        using var response = await t.PostAsync("/v1/responses", body.Replace("\"temperature\":0", "\"temperature\":0,\"stream\":true", StringComparison.Ordinal));
        var stream = await Sse.ReadAllAsync(response);
        Assert.False(stream.Done); // the Responses API sends no [DONE]
        Assert.Equal(Enumerable.Range(0, stream.Chunks.Count), stream.Chunks.Select(c => c.GetProperty("sequence_number").GetInt32()));
        var types = stream.Chunks.Select(c => c.GetProperty("type").GetString()).ToList();
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"], types.Take(4));
        Assert.Equal(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.incomplete"], types.TakeLast(4));
        string text = string.Concat(stream.Chunks.Where(c => c.GetProperty("type").GetString() == "response.output_text.delta").Select(c => c.GetProperty("delta").GetString()));
        var last = stream.Chunks[^1].GetProperty("response");
        Assert.Equal(Text(whole), text);
        Assert.Equal(Text(whole), Text(last));
        Assert.Equal("incomplete", last.GetProperty("status").GetString());
    }

    private static string Text(JsonElement response) =>
        response.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString()!;

    [Theory]
    [InlineData("""{"input":"x","previous_response_id":"resp_1"}""", "previous_response_id")]
    [InlineData("""{"input":"x","background":true}""", "background")]
    [InlineData("""{"input":"x","tools":[{"type":"web_search"}]}""", "tools")]
    [InlineData("""{"input":42}""", "input")]
    [InlineData("""{"input":[{"type":"reasoning","summary":[]}]}""", "input[0]")]
    [InlineData("""{"input":[{"role":"user","content":[{"type":"input_image","image_url":"x"}]}]}""", "input[0].content[0]")]
    [InlineData("""{"input":"x","text":{"format":{"type":"yaml"}}}""", "text.format")]
    [InlineData("""{"input":"x","text":{"format":{"type":"json_schema","name":"s","schema":{"type":"string","format":"hostname"}}}}""", "response_format")]
    public async Task Responses_FieldsNotServed_Are400NamingTheField(string json, string param)
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync("/v1/responses", json);
        Assert.Equal(400, status);
        Assert.Equal(param, body.GetProperty("error").GetProperty("param").GetString());
    }
}
