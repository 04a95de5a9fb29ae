using System.Text.Json;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Routes;

/// <summary>POST /tokenize: the rendered prompt with its ids and pieces, the first step of a wrong-output investigation.</summary>
public sealed class TokenizerEndpointsTests
{
    private const string Messages = """[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]""";

    [Fact]
    public async Task Messages_ReturnTheRenderedPromptItsIdsAndPieces()
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync("/tokenize", $$"""{"messages": {{Messages}}}""");
        Assert.Equal(200, status);
        string prompt = body.GetProperty("prompt").GetString()!;
        Assert.Equal("<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", prompt);
        int[] ids = [.. body.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32())];
        string[] pieces = [.. body.GetProperty("token_strs").EnumerateArray().Select(e => e.GetString()!)];
        Assert.Equal(ids.Length, body.GetProperty("count").GetInt32());
        Assert.Equal(ids.Length, pieces.Length);
        Assert.Equal("<|im_start|>", pieces[0]);
        var tokenizer = t.Server.Host.Model!.Tokenizer;
        Assert.Equal(ids.Select(tokenizer.TokenText), pieces);
        Assert.Equal(tokenizer.Encode(prompt, addSpecial: false, parseSpecial: true), ids);
    }

    [Fact]
    public async Task Messages_WithoutGenerationPromptOrWithTools_RenderAsAChatRequestWould()
    {
        await using var t = await TestServer.StartAsync();
        var (_, plain, _) = await t.PostJsonAsync("/tokenize", $$"""{"messages": {{Messages}}, "add_generation_prompt": false}""");
        Assert.EndsWith("hi<|im_end|>\n", plain.GetProperty("prompt").GetString());
        const string Tools = """[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]""";
        var (status, withTools, _) = await t.PostJsonAsync("/tokenize", $$"""{"messages": {{Messages}}, "tools": {{Tools}}}""");
        Assert.Equal(200, status);
        Assert.Equal(withTools.GetProperty("count").GetInt32(), withTools.GetProperty("tokens").GetArrayLength());
    }

    [Fact]
    public async Task Prompt_ReturnsItselfWithIdsAndPieces()
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync("/tokenize", """{"prompt": "hello world"}""");
        Assert.Equal(200, status);
        Assert.Equal("hello world", body.GetProperty("prompt").GetString());
        Assert.Equal(body.GetProperty("tokens").GetArrayLength(), body.GetProperty("token_strs").GetArrayLength());
    }

    [Theory]
    [InlineData("""{"prompt": "x", "messages": [{"role": "user", "content": "hi"}]}""", "prompt")]
    [InlineData("""{"prompt": "x", "add_generation_prompt": true}""", "add_generation_prompt")]
    [InlineData("""{"prompt": "x", "tools": []}""", "tools")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "add_special_tokens": false}""", "add_special_tokens")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "tools": {"type": "function"}}""", "tools")]
    public async Task FieldThatDoesNotApply_RefusedNamingIt(string json, string field)
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync("/tokenize", json);
        Assert.Equal(400, status);
        Assert.Equal(field, body.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task ResetPrefixCache_ForgetsCachedBlocks_SoTheSamePromptHitsNothing()
    {
        await using var t = await TestServer.StartAsync();
        string prompt = JsonSerializer.Serialize(string.Concat(Enumerable.Repeat("a shared prefix of many tokens ", 12)));
        string request = $$"""{"prompt": {{prompt}}, "max_tokens": 1}""";
        Assert.Equal(200, (await t.PostJsonAsync("/v1/completions", request)).Status);
        var (_, again, _) = await t.PostJsonAsync("/v1/completions", request);
        Assert.True(Cached(again) > 0, "the second request reuses the first one's blocks");

        var (status, reset, _) = await t.PostJsonAsync("/admin/reset-prefix-cache", "");
        Assert.Equal(200, status);
        Assert.True(reset.GetProperty("forgotten_blocks").GetInt32() > 0);
        Assert.True(reset.GetProperty("prefix_caching").GetBoolean());
        var (_, cold, _) = await t.PostJsonAsync("/v1/completions", request);
        Assert.Equal(0, Cached(cold));

        var (vllm, _, _) = await t.PostJsonAsync("/reset_prefix_cache", "");
        Assert.Equal(200, vllm);
    }

    private static int Cached(JsonElement completion) =>
        completion.GetProperty("usage").TryGetProperty("prompt_tokens_details", out var d) && d.ValueKind == JsonValueKind.Object
            ? d.GetProperty("cached_tokens").GetInt32()
            : 0;
}
