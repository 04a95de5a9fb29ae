using System.Text.Json;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Generation;

/// <summary>What the generation routes return for each way of asking.</summary>
public sealed class GenerationTests
{
    [Theory]
    [InlineData("\"one prompt\"", 1)]
    [InlineData("[\"first\", \"second\", \"third\"]", 3)]
    [InlineData("[104, 105, 33]", 1)]
    [InlineData("[[104, 105], [111, 107, 33]]", 2)]
    public async Task Prompt_InEveryShape_GivesOneChoicePerPrompt(string prompt, int choices)
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync("/v1/completions", $$"""{"prompt": {{prompt}}, "max_tokens": 3, "temperature": 0}""");
        Assert.Equal(200, status);
        Assert.Equal(choices, body.GetProperty("choices").GetArrayLength());
        Assert.Equal(Enumerable.Range(0, choices), body.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("index").GetInt32()));
        Assert.Equal(3 * choices, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var usage = body.GetProperty("usage");
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task TokenIdPrompt_EqualsTheSameTextPrompt()
    {
        await using var t = await TestServer.StartAsync();
        var (_, tokenized, _) = await t.PostJsonAsync("/tokenize", """{"prompt": "same prompt"}""");
        string ids = tokenized.GetProperty("tokens").GetRawText();
        var (_, a, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "same prompt", "max_tokens": 8, "temperature": 0}""");
        var (_, b, _) = await t.PostJsonAsync("/v1/completions", $$"""{"prompt": {{ids}}, "max_tokens": 8, "temperature": 0}""");
        Assert.Equal(a.GetProperty("choices")[0].GetProperty("text").GetString(), b.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task SeededSampling_WithN_RepeatsExactly()
    {
        await using var t = await TestServer.StartAsync();
        const string Json = """{"prompt": "roll", "max_tokens": 10, "temperature": 1.0, "n": 3, "seed": 42}""";
        var (_, a, _) = await t.PostJsonAsync("/v1/completions", Json);
        var (_, b, _) = await t.PostJsonAsync("/v1/completions", Json);
        Assert.Equal(3, a.GetProperty("choices").GetArrayLength());
        Assert.Equal(a.GetProperty("choices").GetRawText(), b.GetProperty("choices").GetRawText());
    }

    [Fact]
    public async Task CompletionLogprobs_ListEachTokenWithItsTopAlternatives()
    {
        await using var t = await TestServer.StartAsync();
        var (_, body, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "p", "max_tokens": 4, "temperature": 0, "logprobs": 3}""");
        var lp = body.GetProperty("choices")[0].GetProperty("logprobs");
        Assert.Equal(4, lp.GetProperty("tokens").GetArrayLength());
        Assert.Equal(4, lp.GetProperty("token_logprobs").GetArrayLength());
        Assert.Equal(4, lp.GetProperty("text_offset").GetArrayLength());
        foreach (var top in lp.GetProperty("top_logprobs").EnumerateArray())
        {
            Assert.InRange(top.EnumerateObject().Count(), 1, 4);
            Assert.All(top.EnumerateObject(), p => Assert.True(p.Value.GetDouble() <= 0));
        }
        Assert.All(lp.GetProperty("token_logprobs").EnumerateArray(), v => Assert.True(v.GetDouble() <= 0));
    }

    [Fact]
    public async Task ChatLogprobs_GiveTokenBytesAndTopLogprobs()
    {
        await using var t = await TestServer.StartAsync();
        var (_, body, _) = await t.PostJsonAsync("/v1/chat/completions",
            """{"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 3, "logprobs": true, "top_logprobs": 2}""");
        var content = body.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content");
        Assert.Equal(3, content.GetArrayLength());
        foreach (var entry in content.EnumerateArray())
        {
            Assert.Equal(JsonValueKind.String, entry.GetProperty("token").ValueKind);
            Assert.True(entry.GetProperty("bytes").GetArrayLength() >= 0);
            Assert.Equal(2, entry.GetProperty("top_logprobs").GetArrayLength());
        }
        Assert.Equal(3, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.Equal("assistant", body.GetProperty("choices")[0].GetProperty("message").GetProperty("role").GetString());
    }

    [Fact]
    public async Task CompletionMaxTokensOmitted_GeneratesSixteenTokens()
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "0123456789", "ignore_eos": true}""");
        Assert.Equal(200, status);
        Assert.Equal(16, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal("length", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task CompletionMaxTokensOmitted_NearTheContextEnd_StopsAtTheContext()
    {
        await using var t = await TestServer.StartAsync(engine: TestServer.DefaultEngine with { MaxModelLen = 64 });
        string ids = "[" + string.Join(", ", Enumerable.Repeat(104, 60)) + "]";
        var (status, body, _) = await t.PostJsonAsync("/v1/completions", $$"""{"prompt": {{ids}}, "ignore_eos": true}""");
        Assert.Equal(200, status);
        Assert.Equal(4, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task ChatMaxTokensOmitted_RunsToTheEndOfTheContext()
    {
        await using var t = await TestServer.StartAsync(engine: TestServer.DefaultEngine with { MaxModelLen = 64 });
        var (_, body, _) = await t.PostJsonAsync("/v1/chat/completions", """{"messages": [{"role": "user", "content": "0123456789"}], "ignore_eos": true}""");
        var usage = body.GetProperty("usage");
        Assert.Equal(64, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal("length", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Theory]
    [InlineData("/v1/completions", """{"prompt": "hi", "ignore_eos": true}""")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "ignore_eos": true}""")]
    [InlineData("/v1/predict", """{"text": "hi"}""")]
    public async Task MaxOutputTokens_MaxTokensOmitted_IsTheDefault(string route, string json)
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { MaxOutputTokens = 5 });
        var (status, body, _) = await t.PostJsonAsync(route, json);
        Assert.Equal(200, status);
        int generated = body.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        Assert.True(route == "/v1/predict" ? generated is >= 1 and <= 5 : generated == 5, $"{generated} tokens");
    }

    [Theory]
    [InlineData("/v1/completions", """{"prompt": "hi", "max_tokens": 6}""", "max_tokens")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 6}""", "max_tokens")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 7}""", "max_completion_tokens")]
    [InlineData("/v1/predict", """{"text": "hi", "max_tokens": 6}""", "max_tokens")]
    public async Task MaxOutputTokens_RequestAboveIt_RefusedNamingTheField(string route, string json, string field)
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { MaxOutputTokens = 5 });
        var (status, body, _) = await t.PostJsonAsync(route, json);
        Assert.Equal(400, status);
        Assert.Equal(field, body.GetProperty("error").GetProperty("param").GetString());
        Assert.Contains("--max-output-tokens", body.GetProperty("error").GetProperty("message").GetString());
        var (ok, _, _) = await t.PostJsonAsync(route, json.Replace("6", "5").Replace("7", "5"));
        Assert.Equal(200, ok);
    }

    [Theory]
    [InlineData("/v1/completions", """{"prompt": "hi", "max_tokens": 2, "stream_options": {"include_usage": true}}""")]
    [InlineData("/v1/completions", """{"prompt": "hi", "max_tokens": 2, "stream": false, "stream_options": {"include_usage": true}}""")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stream_options": {}}""")]
    public async Task StreamOptions_WithoutStream_RefusedNamingIt(string route, string json)
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync(route, json);
        Assert.Equal(400, status);
        Assert.Equal("stream_options", body.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task ChatTemplate_IsAppliedBeforeTokenizing()
    {
        await using var t = await TestServer.StartAsync();
        var (_, chat, _) = await t.PostJsonAsync("/tokenize", """{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}]}""");
        var (_, plain, _) = await t.PostJsonAsync("/tokenize", """{"prompt": "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"}""");
        Assert.Equal(plain.GetProperty("tokens").GetRawText(), chat.GetProperty("tokens").GetRawText());
        var (_, text, _) = await t.PostJsonAsync("/detokenize", $$"""{"tokens": {{plain.GetProperty("tokens").GetRawText()}}}""");
        Assert.Equal("<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", text.GetProperty("prompt").GetString());
    }

    [Fact]
    public async Task Predict_TakesTextAndReturnsACompletion()
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync("/v1/predict", """{"text": "older client", "max_tokens": 4}""");
        Assert.Equal(200, status);
        Assert.Equal(JsonValueKind.String, body.GetProperty("text").ValueKind);
        Assert.Equal(4, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task ModelsVersionAndWarmup_Answer()
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { ServedModelNames = ["my-model"] });
        var models = JsonDocument.Parse(await t.Client.GetStringAsync("/v1/models")).RootElement;
        Assert.Equal("list", models.GetProperty("object").GetString());
        Assert.Equal("my-model", models.GetProperty("data")[0].GetProperty("id").GetString());
        Assert.Equal(t.Engine.MaxModelLen, models.GetProperty("data")[0].GetProperty("max_model_len").GetInt32());
        var version = JsonDocument.Parse(await t.Client.GetStringAsync("/version")).RootElement;
        Assert.False(string.IsNullOrEmpty(version.GetProperty("version").GetString()));
        Assert.Equal(Engine.Kernels.CpuInfo.Model, version.GetProperty("cpu").GetString());
        Assert.Contains(version.GetProperty("kernel_path").GetString(), new[] { "avx512-vnni", "avx512", "avx2", "scalar" });
        var (status, warm, _) = await t.PostJsonAsync("/admin/warmup", "{}");
        Assert.Equal(200, status);
        Assert.Equal("ok", warm.GetProperty("status").GetString());
    }
}
