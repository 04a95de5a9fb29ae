using System.Net;
using System.Text;
using System.Text.Json;
using Sluice.Hosting.Errors;
using Sluice.Server.Hosting;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Routes;

/// <summary>Every way a request can be refused, each answered with its status and OpenAI's error shape.</summary>
public sealed class ErrorResponseTests
{
    private static void AssertOpenAiError(JsonElement body, string? code = null)
    {
        var error = body.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.True(error.TryGetProperty("param", out _));
        Assert.True(error.TryGetProperty("code", out var c));
        if (code != null)
        {
            Assert.Equal(code, c.GetString());
        }
    }

    [Fact]
    public async Task MalformedJson_Is400_AndTheServerKeepsServing()
    {
        await using var t = await TestServer.StartAsync();
        foreach (var bad in new[] { "{\"prompt\": ", "not json", "[1,2]", "\"text\"", "" })
        {
            var (status, body, _) = await t.PostJsonAsync("/v1/completions", bad);
            Assert.Equal(400, status);
            AssertOpenAiError(body);
        }
        var (ok, _, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "hello", "max_tokens": 2}""");
        Assert.Equal(200, ok);
    }

    [Theory]
    [InlineData("""{"prompt": "a", "max_tokens": "ten"}""", "max_tokens", "an integer")]
    [InlineData("""{"prompt": "a", "temperature": true}""", "temperature", "a number")]
    [InlineData("""{"prompt": "a", "stream": "yes"}""", "stream", "true or false")]
    [InlineData("""{"prompt": "a", "stop_token_ids": 5}""", "stop_token_ids", "an array")]
    [InlineData("""{"prompt": 5}""", "prompt", "a string")]
    [InlineData("""{"prompt": [1, "a"]}""", "prompt", "token ids")]
    [InlineData("""{"prompt": "a", "temperature": -1}""", "temperature", "temperature must be")]
    [InlineData("""{"prompt": "a", "n": 0}""", "n", "n must be")]
    [InlineData("""{"prompt": "a", "logit_bias": {"x": 1}}""", "logit_bias", "token ids")]
    [InlineData("""{"prompt": [1, 2, 999999]}""", "prompt", "outside the vocabulary")]
    [InlineData("""{"prompt": "a", "response_format": {"type": "xml"}}""", "response_format", "not supported")]
    [InlineData("""{"prompt": "a", "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "string", "pattern": "\\bword"}}}}""", "response_format", "'\\b'")]
    [InlineData("""{"prompt": "a", "guided_json": {"type": "object", "properties": {"a": {"type": "number", "maximum": 3.5}}}}""", "guided_json", "'maximum'")]
    [InlineData("""{"prompt": "a", "guided_json": {"type": "object", "required": 3}}""", "guided_json", "malformed")]
    [InlineData("""{"prompt": "a", "guided_choice": []}""", "guided_choice", "non-empty")]
    [InlineData("""{"prompt": "a", "guided_regex": "(?=a)b"}""", "guided_regex", "lookaround")]
    [InlineData("""{"prompt": "a", "grammar": "root ::= \"a"}""", "grammar", "unterminated literal")]
    [InlineData("""{"prompt": "a", "guided_choice": ["a"], "response_format": {"type": "json_object"}}""", "guided_choice", "one structured-output")]
    [InlineData("""{"prompt": "a", "max_tokens": 0}""", "max_tokens", "at least 1")]
    public async Task BadParameter_Is400NamingTheField(string json, string param, string says)
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync("/v1/completions", json);
        Assert.Equal(400, status);
        AssertOpenAiError(body);
        Assert.Equal(param, body.GetProperty("error").GetProperty("param").GetString());
        Assert.Contains(says, body.GetProperty("error").GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": -7}""", "max_completion_tokens")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}""", "max_tokens")]
    public async Task Chat_OutputLimitBelowOne_NamesTheFieldSent(string json, string param)
    {
        // found by the HTTP fuzzer, seed 20250101, request #1936 (FuzzTests)
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync("/v1/chat/completions", json);
        Assert.Equal(400, status);
        Assert.Equal(param, body.GetProperty("error").GetProperty("param").GetString());
        Assert.StartsWith(param + " must be at least 1", body.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task ChatMessages_BadShapes_Are400()
    {
        await using var t = await TestServer.StartAsync();
        foreach (var json in new[]
        {
            """{"messages": []}""",
            """{"messages": [{"role": "wizard", "content": "hi"}]}""",
            """{"messages": [{"role": "user", "content": 5}]}""",
            """{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}""",
            """{"messages": [{"role": "user", "content": "hi"}], "logprobs": 3}""",
            """{"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 3}""",
            """{"messages": "hi"}""",
        })
        {
            var (status, body, _) = await t.PostJsonAsync("/v1/chat/completions", json);
            Assert.True(status == 400, $"{json} -> {status}");
            AssertOpenAiError(body);
        }
    }

    /// <summary>The body's UTF-8 with <c>BAD</c> replaced by raw bytes that are not UTF-8 (0xFF 0xFE).</summary>
    private static byte[] WithInvalidUtf8(string json)
    {
        int at = json.IndexOf("BAD", StringComparison.Ordinal);
        return [.. Encoding.UTF8.GetBytes(json[..at]), 0xFF, 0xFE, .. Encoding.UTF8.GetBytes(json[(at + 3)..])];
    }

    private static async Task AssertNotUnicodeAsync(TestServer t, string route, byte[] json, string field)
    {
        var response = await t.Client.PostAsync(route, new ByteArrayContent(json));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{route} -> {(int)response.StatusCode} {text}");
        using var doc = JsonDocument.Parse(text);
        AssertOpenAiError(doc.RootElement);
        var error = doc.RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(field, error.GetProperty("param").GetString());
        Assert.Contains($"'{field}' is not valid Unicode", error.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("/v1/completions", """{"prompt": "a\ud800b", "max_tokens": 2}""", "prompt")]
    [InlineData("/v1/completions", """{"prompt": ["ok", "\udc00"], "max_tokens": 2}""", "prompt[1]")]
    [InlineData("/v1/completions", """{"prompt": "a", "stop": ["x", "\ud800"], "max_tokens": 2}""", "stop[1]")]
    [InlineData("/v1/completions", """{"prompt": "a", "stop": "\ud800", "max_tokens": 2}""", "stop")]
    [InlineData("/v1/completions", """{"prompt": "a", "model": "\ud800"}""", "model")]
    [InlineData("/v1/completions", """{"prompt": "a", "user": "x\udfff"}""", "user")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "\ud800"}]}""", "messages[0].content")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": [{"type": "text", "text": "ok"}, {"type": "text", "text": "\ud83d"}]}]}""", "messages[0].content[1].text")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "stop": ["\ud800"]}""", "stop[0]")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "user": "\ud800"}""", "user")]
    [InlineData("/tokenize", """{"prompt": "\ud800"}""", "prompt")]
    [InlineData("/tokenize", """{"messages": [{"role": "user", "content": "\ud800"}]}""", "messages[0].content")]
    [InlineData("/detokenize", """{"model": "\ud800", "tokens": [1]}""", "model")]
    [InlineData("/v1/predict", """{"text": "\ud800"}""", "text")]
    public async Task LoneSurrogateEscape_Is400NamingTheField_AndCountsAsAnInvalidRequest(string route, string json, string field)
    {
        await using var t = await TestServer.StartAsync();
        await AssertNotUnicodeAsync(t, route, Encoding.UTF8.GetBytes(json), field);
        Assert.Equal(1, t.Server.Telemetry.Rejections[AdmissionRejection.InvalidRequest]);
        Assert.Equal(0, t.Server.Telemetry.RequestsFailed);
    }

    [Theory]
    [InlineData("/v1/completions", """{"prompt": "aBADb", "max_tokens": 2}""", "prompt")]
    [InlineData("/v1/completions", """{"prompt": "a", "stop": ["x", "BAD"], "max_tokens": 2}""", "stop[1]")]
    [InlineData("/v1/completions", """{"prompt": "a", "model": "BAD"}""", "model")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hiBAD"}]}""", "messages[0].content")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi\nBAD"}]}""", "messages[0].content")]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "user": "BAD"}""", "user")]
    [InlineData("/tokenize", """{"prompt": "BAD"}""", "prompt")]
    [InlineData("/detokenize", """{"model": "BAD", "tokens": [1]}""", "model")]
    [InlineData("/v1/predict", """{"text": "BAD"}""", "text")]
    public async Task RawBytesThatAreNotUtf8_Are400NamingTheField_AndCountAsAnInvalidRequest(string route, string json, string field)
    {
        await using var t = await TestServer.StartAsync();
        await AssertNotUnicodeAsync(t, route, WithInvalidUtf8(json), field);
        Assert.Equal(1, t.Server.Telemetry.Rejections[AdmissionRejection.InvalidRequest]);
        Assert.Equal(0, t.Server.Telemetry.RequestsFailed);
    }

    [Fact]
    public async Task InvalidUnicodeInAKey_Is400_AndSurrogatePairsAndEscapesAreServed()
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "a", "logit_bias": {"\ud800": 1}}""");
        Assert.Equal(400, status);
        Assert.Equal("logit_bias", body.GetProperty("error").GetProperty("param").GetString());
        Assert.Contains("not valid Unicode", body.GetProperty("error").GetProperty("message").GetString());
        var (status2, body2, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "a", "\ud800": 1}""");
        Assert.Equal(400, status2);
        Assert.Contains("not valid Unicode", body2.GetProperty("error").GetProperty("message").GetString());

        // a surrogate pair, escaped or as UTF-8, and other escapes are fine
        var (ok, _, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "smile \ud83d\ude00 \"quoted\"\n", "stop": ["\u00e9", "😀"], "max_tokens": 2}""");
        Assert.Equal(200, ok);
        var (ok2, _, _) = await t.PostJsonAsync("/v1/chat/completions", """{"messages": [{"role": "user", "content": "caf\u00e9 😀"}], "max_tokens": 2}""");
        Assert.Equal(200, ok2);
        Assert.Equal(2, t.Server.Telemetry.Rejections[AdmissionRejection.InvalidRequest]);
        Assert.Equal(0, t.Server.Telemetry.RequestsFailed);
    }

    [Fact]
    public async Task UnknownFields_AreIgnored_AndAnyContentTypeIsReadAsJson()
    {
        await using var t = await TestServer.StartAsync();
        // what `curl -d` sends: form encoding
        var content = new StringContent("""{"prompt": "test", "max_tokens": 3, "frobnicate": {"deep": [1, 2]}, "user": "u1"}""", Encoding.UTF8, "application/x-www-form-urlencoded");
        var response = await t.Client.PostAsync("/v1/completions", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(3, doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task PromptLongerThanTheContext_Is400NamingBothNumbers()
    {
        await using var t = await TestServer.StartAsync();
        int maxLen = t.Engine.MaxModelLen;
        var ids = string.Join(",", Enumerable.Repeat(65, maxLen + 5));
        var (status, body, _) = await t.PostJsonAsync("/v1/completions", $$"""{"prompt": [{{ids}}]}""");
        Assert.Equal(400, status);
        AssertOpenAiError(body, "context_length_exceeded");
        string message = body.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains($"{maxLen}", message);
        Assert.Contains($"{maxLen + 5}", message);

        var (status2, body2, _) = await t.PostJsonAsync("/v1/completions", $$"""{"prompt": "hello", "max_tokens": {{maxLen}}}""");
        Assert.Equal(400, status2);
        string message2 = body2.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains($"maximum context length is {maxLen} tokens", message2);
        Assert.Contains($"{maxLen} in the completion", message2);
        var (status3, _, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "hello", "max_tokens": 2147483647}""");
        Assert.Equal(400, status3);
        Assert.Equal(3, t.Server.Telemetry.Rejections[AdmissionRejection.TooLong]);
    }

    [Theory]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "logprobs": true, "top_logprobs": 21}""", "between 0 and 20")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "logprobs": true, "top_logprobs": -1}""", "between 0 and 20")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 3}""", "needs 'logprobs'")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}], "logprobs": false, "top_logprobs": 3}""", "needs 'logprobs'")]
    public async Task TopLogprobsErrors_NameTopLogprobs(string json, string says)
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync("/v1/chat/completions", json);
        Assert.Equal(400, status);
        AssertOpenAiError(body);
        var error = body.GetProperty("error");
        Assert.Equal("top_logprobs", error.GetProperty("param").GetString());
        string message = error.GetProperty("message").GetString()!;
        Assert.StartsWith("top_logprobs", message.TrimStart('\''));
        Assert.Contains(says, message);
    }

    [Fact]
    public async Task ContextLengthErrors_NamePromptOnCompletions_AndMessagesOnChat()
    {
        await using var t = await TestServer.StartAsync();
        int maxLen = t.Engine.MaxModelLen;
        var ids = string.Join(",", Enumerable.Repeat(65, maxLen + 5));
        foreach (var json in new[] { $$"""{"prompt": [{{ids}}]}""", $$"""{"prompt": "hello", "max_tokens": {{maxLen}}}""" })
        {
            var (status, body, _) = await t.PostJsonAsync("/v1/completions", json);
            Assert.Equal(400, status);
            AssertOpenAiError(body, "context_length_exceeded");
            Assert.Equal("prompt", body.GetProperty("error").GetProperty("param").GetString());
        }
        var (chat, chatBody, _) = await t.PostJsonAsync("/v1/chat/completions", $$"""{"messages": [{"role": "user", "content": "hello"}], "max_tokens": {{maxLen}}}""");
        Assert.Equal(400, chat);
        AssertOpenAiError(chatBody, "context_length_exceeded");
        Assert.Equal("messages", chatBody.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task BodyTricklingSlowerThanTheMinimumRate_Is408RequestTimeout_CountedAsAnInvalidRequest()
    {
        await using var t = await TestServer.StartAsync();
        byte[] body = Encoding.UTF8.GetBytes("""{"prompt": "hello", "max_tokens": 2}""");
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(t.BaseUri.Host, t.BaseUri.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /v1/completions HTTP/1.1\r\nHost: {t.BaseUri.Authority}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n"));
        // a byte every half second: well under Kestrel's minimum body data rate (240 bytes/s after a 5 s grace period)
        using var stop = new CancellationTokenSource();
        var trickle = Task.Run(async () =>
        {
            try
            {
                for (int i = 0; i < body.Length - 1 && !stop.IsCancellationRequested; i++)
                {
                    await stream.WriteAsync(body.AsMemory(i, 1), stop.Token);
                    await Task.Delay(500, stop.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                // the server closed the connection
            }
        });
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string statusLine = (await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)))!;
        var headers = new List<string>();
        for (string? line = await reader.ReadLineAsync(); !string.IsNullOrEmpty(line); line = await reader.ReadLineAsync())
        {
            headers.Add(line);
        }
        string rest = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10)); // chunked; the server closes after it
        await stop.CancelAsync();
        await trickle;

        Assert.StartsWith("HTTP/1.1 408", statusLine);
        Assert.Contains(headers, h => h.Equals("Connection: close", StringComparison.OrdinalIgnoreCase));
        string json = rest[rest.IndexOf('{')..(rest.LastIndexOf('}') + 1)];
        using var doc = JsonDocument.Parse(json);
        AssertOpenAiError(doc.RootElement, "request_timeout");
        Assert.Contains("too slowly", doc.RootElement.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(1, t.Server.Telemetry.Rejections[AdmissionRejection.InvalidRequest]);
        Assert.Equal(0, t.Server.Telemetry.RequestsFailed);
    }

    [Fact]
    public async Task BodyOverTheLimit_Is413()
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { MaxRequestBodySize = 2048 });
        string big = new('a', 10_000);
        var (status, body, _) = await t.PostJsonAsync("/v1/completions", $$"""{"prompt": "{{big}}"}""");
        Assert.Equal(413, status);
        AssertOpenAiError(body, "request_too_large");

        // chunked, without Content-Length: caught while reading
        var chunked = new StringContent($$"""{"prompt": "{{big}}"}""");
        chunked.Headers.ContentLength = null;
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes($$"""{"prompt": "{{big}}"}"""))) };
        request.Headers.TransferEncodingChunked = true;
        var response = await t.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(2, t.Server.Telemetry.Rejections[AdmissionRejection.BodyTooLarge]);
    }

    [Fact]
    public async Task UnknownModel_Is404_AndAnOmittedModelIsTheServedOne()
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { ServedModelNames = ["tiny-a", "tiny-b"] });
        var (status, body, _) = await t.PostJsonAsync("/v1/chat/completions", """{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}""");
        Assert.Equal(404, status);
        AssertOpenAiError(body, "model_not_found");
        var (ok, reply, _) = await t.PostJsonAsync("/v1/completions", """{"model": "tiny-b", "prompt": "x", "max_tokens": 1}""");
        Assert.Equal(200, ok);
        Assert.Equal("tiny-b", reply.GetProperty("model").GetString());
        var (ok2, reply2, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "x", "max_tokens": 1}""");
        Assert.Equal(200, ok2);
        Assert.Equal("tiny-a", reply2.GetProperty("model").GetString());
    }

    [Fact]
    public async Task UnknownRoute_Is404_AndWrongMethod_Is405()
    {
        await using var t = await TestServer.StartAsync();
        var missing = await t.Client.GetAsync("/v2/nothing");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        var wrong = await t.Client.GetAsync("/v1/completions");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrong.StatusCode);
        using var doc = JsonDocument.Parse(await wrong.Content.ReadAsStringAsync());
        AssertOpenAiError(doc.RootElement, "method_not_allowed");
    }

    [Fact]
    public async Task WhileTheModelLoads_RequestsAndReadinessAre503_AndLivenessIs200()
    {
        using var release = new ManualResetEventSlim();
        await using var t = await TestServer.StartAsync(load: () =>
        {
            release.Wait(TimeSpan.FromSeconds(30));
            return TestModels.LoadTiny();
        }, waitReady: false);
        var (status, body, _) = await t.PostJsonAsync("/v1/completions", """{"prompt": "x"}""");
        Assert.Equal(503, status);
        AssertOpenAiError(body, "service_unavailable");
        Assert.Contains("loading", body.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await t.Client.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await t.Client.GetAsync("/health/live")).StatusCode);
        release.Set();
        await t.Server.Host.Settled.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(ServerState.Ready, t.Server.Host.State);
        Assert.Equal(HttpStatusCode.OK, (await t.Client.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(1, t.Server.Telemetry.Rejections[AdmissionRejection.NotReady]);
    }

    [Fact]
    public async Task EveryResponse_CarriesTheCallersRequestId_OrANewOne()
    {
        await using var t = await TestServer.StartAsync();
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent("""{"prompt": "x", "max_tokens": 1}""") };
        request.Headers.Add("X-Request-Id", "gateway-abc-123");
        var response = await t.Client.SendAsync(request);
        Assert.Equal("gateway-abc-123", response.Headers.GetValues("X-Request-Id").Single());
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("cmpl-gateway-abc-123", doc.RootElement.GetProperty("id").GetString());

        var error = await t.PostAsync("/v1/completions", "nope");
        Assert.False(string.IsNullOrEmpty(error.Headers.GetValues("X-Request-Id").Single()));
    }
}
