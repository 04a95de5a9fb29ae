using System.Text.Json;
using Sluice.Hosting.Errors;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Streaming;

/// <summary>Server-sent events exactly as OpenAI sends them, and what a disconnect does.</summary>
public sealed class StreamingTests
{
    private static async Task<Sse.Stream> Stream(TestServer t, string path, string json)
    {
        var response = await t.PostAsync(path, json);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        return await Sse.ReadAllAsync(response);
    }

    [Fact]
    public async Task CompletionStream_ConcatenatesToTheWholeAnswer_EndsWithFinishReasonAndDone()
    {
        await using var t = await TestServer.StartAsync();
        var (_, whole, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "stream me", "max_tokens": 12, "temperature": 0}""");
        var s = await Stream(t, "/v1/completions", """{"prompt": "stream me", "max_tokens": 12, "temperature": 0, "stream": true}""");
        Assert.True(s.Done);
        string text = string.Concat(s.Chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal(whole.GetProperty("choices")[0].GetProperty("text").GetString(), text);
        Assert.All(s.Chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.All(s.Chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));
        Assert.Equal("length", s.Chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.All(s.Chunks, c => Assert.False(c.TryGetProperty("usage", out _)));
    }

    [Fact]
    public async Task ChatStream_StartsWithTheRole_PutsFinishReasonInTheLastContentChunk_AndUsageLast()
    {
        await using var t = await TestServer.StartAsync();
        var s = await Stream(t, "/v1/chat/completions",
            """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 6, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}""");
        Assert.True(s.Done);
        var first = s.Chunks[0].GetProperty("choices")[0];
        Assert.Equal("assistant", first.GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal("", first.GetProperty("delta").GetProperty("content").GetString());
        var usage = s.Chunks[^1];
        Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
        Assert.Equal(6, usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var last = s.Chunks[^2].GetProperty("choices")[0];
        Assert.Equal("length", last.GetProperty("finish_reason").GetString());
        Assert.All(s.Chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Single(s.Chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
    }

    [Fact]
    public async Task ReturnTokenIds_EachChunkCarriesItsIds_AndThePromptPlusThemContinuesExactly()
    {
        await using var t = await TestServer.StartAsync();
        var s = await Stream(t, "/v1/completions", """{"prompt": "stream me", "max_tokens": 12, "temperature": 0, "ignore_eos": true, "stream": true, "return_token_ids": true}""");
        var ids = s.Chunks.SelectMany(c => c.GetProperty("choices")[0].GetProperty("token_ids").EnumerateArray().Select(i => i.GetInt32())).ToList();
        Assert.Equal(12, ids.Count);
        string text = string.Concat(s.Chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
        // the prompt's ids and the first five generated: the rest of the answer, token for token (what a gateway continues with)
        var (_, tokenized, _) = await t.PostJsonAsync("/tokenize", """{"prompt": "stream me"}""");
        var prompt = tokenized.GetProperty("tokens").EnumerateArray().Select(i => i.GetInt32()).Concat(ids.Take(5));
        var rest = await Stream(t, "/v1/completions",
            $$"""{"prompt": [{{string.Join(",", prompt)}}], "max_tokens": 7, "temperature": 0, "ignore_eos": true, "stream": true, "return_token_ids": true}""");
        Assert.Equal(ids.Skip(5), rest.Chunks.SelectMany(c => c.GetProperty("choices")[0].GetProperty("token_ids").EnumerateArray().Select(i => i.GetInt32())));
        string before = string.Concat(s.Chunks.Take(5).Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal(text, before + string.Concat(rest.Chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString())));
        // without the field, no ids
        var plain = await Stream(t, "/v1/completions", """{"prompt": "stream me", "max_tokens": 3, "stream": true}""");
        Assert.All(plain.Chunks, c => Assert.False(c.GetProperty("choices")[0].TryGetProperty("token_ids", out _)));
    }

    [Fact]
    public async Task SeededContinuation_WithContinuedTokens_EqualsTheUnbrokenRun_AndWithoutItDoesNot()
    {
        await using var t = await TestServer.StartAsync();
        const string Sampling = "\"temperature\": 20, \"seed\": 77, \"ignore_eos\": true, \"stream\": true, \"return_token_ids\": true";
        static List<int> Ids(Sse.Stream s) => [.. s.Chunks.SelectMany(c => c.GetProperty("choices")[0].GetProperty("token_ids").EnumerateArray().Select(i => i.GetInt32()))];
        var whole = Ids(await Stream(t, "/v1/completions", $$"""{"prompt": "roll the dice", "max_tokens": 24, {{Sampling}}}"""));
        Assert.Equal(24, whole.Count);
        var (_, tokenized, _) = await t.PostJsonAsync("/tokenize", """{"prompt": "roll the dice"}""");
        string prompt = string.Join(",", tokenized.GetProperty("tokens").EnumerateArray().Select(i => i.GetInt32()).Concat(whole.Take(10)));
        // the first ten tokens were sampled already: the sampler resumes ten draws in, as the unbroken run's did
        var rest = Ids(await Stream(t, "/v1/completions", $$"""{"prompt": [{{prompt}}], "max_tokens": 14, "continued_tokens": 10, {{Sampling}}}"""));
        Assert.Equal(whole.Skip(10), rest);
        // without it the continuation starts the seed afresh: a different answer (why a gateway sends it)
        var fresh = Ids(await Stream(t, "/v1/completions", $$"""{"prompt": [{{prompt}}], "max_tokens": 14, {{Sampling}}}"""));
        Assert.NotEqual(whole.Skip(10), fresh);
    }

    [Theory]
    [InlineData("/v1/completions", """{"prompt": "ab", "max_tokens": 2, "continued_tokens": 999}""")]
    [InlineData("/v1/completions", """{"prompt": "ab", "max_tokens": 2, "continued_tokens": -1}""")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "continued_tokens": 1}""")]
    public async Task ContinuedTokens_OutOfRangeOrOnChat_IsRefusedNamingTheField(string path, string json)
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync(path, json);
        Assert.Equal(400, status);
        Assert.Equal("continued_tokens", body.GetProperty("error").GetProperty("param").GetString());
    }

    /// <summary>A forced call whose one argument is a long string: the call is still being written many tokens in.</summary>
    private const string ForcedCall = """
        "messages": [{"role": "user", "content": "Tell a story"}], "tool_choice": "required",
        "tools": [{"type": "function", "function": {"name": "tell", "parameters": {"type": "object", "properties": {"story": {"type": "string", "minLength": 400}}, "required": ["story"], "additionalProperties": false}}}],
        "ignore_eos": true, "stream": true, "return_token_ids": true
        """;

    /// <summary>One choice of a chat stream as the client assembles it: its token ids, each call's id, name and arguments, its finish.</summary>
    private sealed record Assembled(List<int> Ids, List<(string? Id, string Name, string Arguments)> Calls, string Content, string? Finish);

    private static Assembled Assemble(IEnumerable<JsonElement> chunks, int index)
    {
        var ids = new List<int>();
        var calls = new SortedDictionary<int, (string? Id, string Name, string Arguments)>();
        string content = "";
        string? finish = null;
        foreach (var c in chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray()).Where(c => c.GetProperty("index").GetInt32() == index))
        {
            if (c.TryGetProperty("token_ids", out var t) && t.ValueKind == JsonValueKind.Array)
            {
                ids.AddRange(t.EnumerateArray().Select(i => i.GetInt32()));
            }
            var delta = c.GetProperty("delta");
            content += delta.TryGetProperty("content", out var text) && text.ValueKind == JsonValueKind.String ? text.GetString() : "";
            if (delta.TryGetProperty("tool_calls", out var deltas) && deltas.ValueKind == JsonValueKind.Array)
            {
                foreach (var d in deltas.EnumerateArray())
                {
                    int k = d.GetProperty("index").GetInt32();
                    var (id, name, arguments) = calls.GetValueOrDefault(k, (null, "", ""));
                    var f = d.GetProperty("function");
                    calls[k] = (d.TryGetProperty("id", out var i) ? i.GetString() : id, name + (f.TryGetProperty("name", out var n) ? n.GetString() : ""),
                        arguments + (f.TryGetProperty("arguments", out var a) ? a.GetString() : ""));
                }
            }
            finish = c.GetProperty("finish_reason").ValueKind == JsonValueKind.String ? c.GetProperty("finish_reason").GetString() : finish;
        }
        return new Assembled(ids, [.. calls.Values], content, finish);
    }

    [Theory]
    [InlineData("\"temperature\": 0")]
    [InlineData("\"temperature\": 20, \"seed\": 41")]
    public async Task ChatContinuedTokenIds_ToolCallCutMidArguments_ContinuesTheCallExactly(string sampling)
    {
        await using var t = await TestServer.StartAsync();
        var whole = await Stream(t, "/v1/chat/completions", $$"""{{{ForcedCall}}, {{sampling}}, "max_tokens": 80}""");
        var unbroken = Assemble(whole.Chunks, 0);
        Assert.Equal(80, unbroken.Ids.Count);
        var call = Assert.Single(unbroken.Calls);
        Assert.Equal("tell", call.Name);
        // the client had the chunks of the first 50 tokens (the call's id, name and part of its arguments): the rest,
        // asked as choice 2 of a stream, comes as that choice, the arguments going on where they stopped
        var had = whole.Chunks.TakeWhile((c, i) => whole.Chunks.Take(i).Sum(x => x.GetProperty("choices").EnumerateArray().Sum(ch => ch.TryGetProperty("token_ids", out var ti) ? ti.GetArrayLength() : 0)) < 50).ToList();
        var first = Assemble(had, 0);
        Assert.Equal(50, first.Ids.Count);
        Assert.NotEmpty(Assert.Single(first.Calls).Arguments);
        var rest = await Stream(t, "/v1/chat/completions",
            $$"""{{{ForcedCall}}, {{sampling}}, "max_tokens": 30, "continued_token_ids": [{{string.Join(",", first.Ids)}}], "continued_choice": 2}""");
        Assert.All(rest.Chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray()), c => Assert.Equal(2, c.GetProperty("index").GetInt32()));
        var second = Assemble(rest.Chunks, 2);
        Assert.Equal(unbroken.Ids, first.Ids.Concat(second.Ids));
        var continued = Assert.Single(second.Calls);
        Assert.Null(continued.Id); // the call the client has: no second header
        Assert.Equal("", continued.Name);
        Assert.Equal(call.Arguments, first.Calls[0].Arguments + continued.Arguments);
        Assert.Equal(unbroken.Finish, second.Finish);
    }

    /// <summary>Each token of a greedy run and the text its chunk carried.</summary>
    private static List<(int Id, string Text)> Tokens(Sse.Stream s) => [.. s.Chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
        .Select(c => c.GetProperty("choices")[0]).Where(c => c.TryGetProperty("token_ids", out _))
        .SelectMany(c => c.GetProperty("token_ids").EnumerateArray().Select((id, k) => (id.GetInt32(), k == 0 ? c.GetProperty("text").GetString() ?? "" : "")))];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CompletionContinuedTokenIds_StopStringAcrossTheCut_StopsWhereTheUnbrokenRunStops(bool includeStop)
    {
        await using var t = await TestServer.StartAsync();
        const string Fields = "\"temperature\": 0, \"stream\": true, \"return_token_ids\": true";
        var plain = Tokens(await Stream(t, "/v1/completions", $$"""{"prompt": "stream me", "max_tokens": 60, {{Fields}}}"""));
        // a stop string made of the end of one token's text and the start of the next's: it spans a token boundary
        int j = Enumerable.Range(5, plain.Count - 6).First(k => plain[k].Text.Trim().Length > 0 && plain[k + 1].Text.Trim().Length > 0);
        string stop = plain[j].Text[^Math.Min(2, plain[j].Text.Length)..] + plain[j + 1].Text[..Math.Min(2, plain[j + 1].Text.Length)];
        string Body(int max) => $$"""{"prompt": "stream me", "max_tokens": {{max}}, "stop": [{{JsonSerializer.Serialize(stop)}}], "include_stop_str_in_output": {{(includeStop ? "true" : "false")}}, {{Fields}}""";
        var whole = await Stream(t, "/v1/completions", Body(60) + "}");
        var ids = whole.Chunks.SelectMany(c => c.GetProperty("choices")[0].GetProperty("token_ids").EnumerateArray().Select(i => i.GetInt32())).ToList();
        string text = string.Concat(whole.Chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal("stop", whole.Chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        // cut before the token that completes the stop string: its start was held back, the client has the text before it
        string had = string.Concat(whole.Chunks.Take(whole.Chunks.Count - 1).Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
        var rest = await Stream(t, "/v1/completions", Body(60 - (ids.Count - 1)) + $$""", "continued_token_ids": [{{string.Join(",", ids[..^1])}}]}""");
        var last = rest.Chunks[^1].GetProperty("choices")[0];
        Assert.Equal("stop", last.GetProperty("finish_reason").GetString());
        Assert.Equal(ids[^1..], rest.Chunks.SelectMany(c => c.GetProperty("choices")[0].GetProperty("token_ids").EnumerateArray().Select(i => i.GetInt32())));
        Assert.Equal(text, had + string.Concat(rest.Chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString())));
        Assert.Equal(includeStop, text.EndsWith(stop, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ContinuedTokenIds_ThatAlreadyHoldTheStopString_IsRefusedNamingTheField()
    {
        await using var t = await TestServer.StartAsync();
        var plain = Tokens(await Stream(t, "/v1/completions", """{"prompt": "stream me", "max_tokens": 8, "temperature": 0, "stream": true, "return_token_ids": true}"""));
        string stop = string.Concat(plain.Select(p => p.Text))[..2];
        var (status, body, _) = await t.PostJsonAsync("/v1/completions",
            $$"""{"prompt": "stream me", "max_tokens": 4, "stream": true, "stop": [{{JsonSerializer.Serialize(stop)}}], "continued_token_ids": [{{string.Join(",", plain.Select(p => p.Id))}}]}""");
        Assert.Equal(400, status);
        Assert.Equal("continued_token_ids", body.GetProperty("error").GetProperty("param").GetString());
    }

    [Theory]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "continued_token_ids": [1]}""", "continued_token_ids")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stream": true, "n": 2, "continued_token_ids": [1]}""", "continued_token_ids")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stream": true, "continued_token_ids": [-1]}""", "continued_token_ids")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stream": true, "continued_token_ids": [99999999]}""", "continued_token_ids")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stream": true, "continued_choice": 1}""", "continued_choice")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stream": true, "continued_token_ids": [1], "continued_choice": -1}""", "continued_choice")]
    [InlineData("""{"prompt": "hi", "max_tokens": 2, "stream": true, "continued_token_ids": [1], "continued_tokens": 1}""", "continued_tokens")]
    [InlineData("""{"prompt": ["hi", "ho"], "max_tokens": 2, "stream": true, "continued_token_ids": [1]}""", "continued_token_ids")]
    [InlineData("""{"prompt": "hi", "max_tokens": 2, "continued_token_ids": [1]}""", "continued_token_ids")]
    public async Task ContinuedTokenIds_NotStreamedSeveralChoicesOrBadIds_IsRefusedNamingTheField(string json, string field)
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync(json.Contains("\"prompt\"", StringComparison.Ordinal) ? "/v1/completions" : "/v1/chat/completions", json);
        Assert.Equal(400, status);
        Assert.Equal(field, body.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task ChatStream_WithN2_SendsARoleChunkAndAFinishPerChoice()
    {
        await using var t = await TestServer.StartAsync();
        var s = await Stream(t, "/v1/chat/completions",
            """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "n": 2, "seed": 3, "stream": true}""");
        var choices = s.Chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray()).ToList();
        Assert.Equal(2, choices.Count(c => c.GetProperty("delta").TryGetProperty("role", out _)));
        var finishes = choices.Where(c => c.GetProperty("finish_reason").ValueKind == JsonValueKind.String).Select(c => c.GetProperty("index").GetInt32()).Order();
        Assert.Equal([0, 1], finishes);
    }

    [Fact]
    public async Task StopString_EndsTheStreamWithStopAndNeverShowsTheStopText()
    {
        await using var t = await TestServer.StartAsync();
        var (_, whole, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "abc", "max_tokens": 40, "temperature": 0, "ignore_eos": true}""");
        string text = whole.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.True(text.Length > 6, "the tiny model should produce some text");
        string stop = text.Substring(3, 2);
        var s = await Stream(t, "/v1/completions", $$"""{"prompt": "abc", "max_tokens": 40, "temperature": 0, "ignore_eos": true, "stop": ["{{JsonEncodedText.Encode(stop)}}"], "stream": true}""");
        string streamed = string.Concat(s.Chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], streamed);
        var last = s.Chunks[^1].GetProperty("choices")[0];
        Assert.Equal("stop", last.GetProperty("finish_reason").GetString());
        Assert.Equal(stop, last.GetProperty("stop_reason").GetString());
    }

    [Fact]
    public async Task ClientDisconnect_MidStream_AbortsTheRequestAndFreesItsKvBlocks()
    {
        await using var t = await TestServer.StartAsync(load: TestModels.LoadSlow);
        int total = t.Engine.Stats.KvBlocksTotal;
        // a client that hangs up: no draining of the rest of the response for connection reuse, as HttpClient would
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = t.BaseUri };
        var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"messages": [{"role": "user", "content": "a long answer please"}], "max_tokens": 900, "ignore_eos": true, "stream": true}"""),
        }, HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStreamAsync();
        var reader = new StreamReader(body);
        int contentChunks = 0;
        while (contentChunks < 5 && await reader.ReadLineAsync() is { } line)
        {
            if (line.Contains("\"content\":\"", StringComparison.Ordinal) && !line.Contains("\"role\"", StringComparison.Ordinal))
            {
                contentChunks++;
            }
        }
        Assert.True(t.Engine.Stats.KvBlocksFree < total, "the request should hold blocks while it runs");
        response.Dispose(); // the client goes away

        await t.WaitForAllBlocksFreeAsync();
        Assert.Equal(total, t.Engine.Stats.KvBlocksFree);
        Assert.True(t.Engine.Stats.GenerationTokens < 900, $"generated {t.Engine.Stats.GenerationTokens}: the request ran on after the disconnect");
        Assert.Equal(1, t.Server.Telemetry.Rejections[AdmissionRejection.Cancelled]);
    }

    [Fact]
    public async Task PerRequestMetrics_ComeWithTheResponseAndTheLastChunk()
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { EnablePerRequestMetrics = true });
        var (_, whole, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "time me", "max_tokens": 5}""");
        var m = whole.GetProperty("metrics");
        Assert.Equal(5, m.GetProperty("completion_tokens").GetInt32());
        foreach (var key in new[] { "queue_ms", "prefill_ms", "decode_ms", "ttft_ms", "e2e_ms" })
        {
            Assert.True(m.GetProperty(key).GetDouble() >= 0, key);
        }
        Assert.True(m.GetProperty("e2e_ms").GetDouble() >= m.GetProperty("ttft_ms").GetDouble());

        var s = await Stream(t, "/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "stream": true}""");
        Assert.True(s.Chunks[^1].TryGetProperty("metrics", out var streamed));
        Assert.Equal(3, streamed.GetProperty("completion_tokens").GetInt32());
        Assert.All(s.Chunks[..^1], c => Assert.False(c.TryGetProperty("metrics", out _)));

        await using var off = await TestServer.StartAsync();
        var (_, plain, _) = await off.PostJsonAsync("/v1/completions", """{"prompt": "time me", "max_tokens": 2}""");
        Assert.False(plain.TryGetProperty("metrics", out _));
    }
}
