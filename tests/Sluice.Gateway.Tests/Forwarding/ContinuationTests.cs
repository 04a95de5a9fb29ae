using System.Net;
using System.Text.Json;
using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Forwarding;

/// <summary>
/// A real `sluice serve` replica SIGKILLed while 16 greedy (or 8 seeded, temperature 20) streams run through it: each
/// stream is continued on the other replica at the token level and reaches the client as one unbroken stream, with the
/// tokens of an unbroken run and its usage (seeded: the continuation's sampler resumes at the cut, continued_tokens). Two replicas of its own (one is killed), beside the shared ones' collection so the CPU is not shared.
/// </summary>
[Collection(ReplicaCollection.Name)]
public sealed class ContinuationTests
{
    private const int MaxTokens = 400;

    /// <summary>Even streams are completions, odd ones chat.</summary>
    private static string Path(int i) => i % 2 == 0 ? "/v1/completions" : "/v1/chat/completions";

    private static string Body(int i, string model, bool seeded) => (i % 2 == 0
        ? $$"""{"model": "{{model}}", "prompt": "Tell story number {{i}}", """
        : $$"""{"model": "{{model}}", "messages": [{"role": "user", "content": "Tell story number {{i}}"}], """)
        + (seeded ? $"\"temperature\": 20, \"seed\": {1000 + i}, " : "\"temperature\": 0, ")
        + $$"""
            "max_tokens": {{MaxTokens}}, "ignore_eos": true, "stream": true, "stream_options": {"include_usage": true}, "return_token_ids": true}
            """;

    private sealed record Run(string Backend, List<JsonElement> Chunks, string Last)
    {
        public List<int> Ids => [.. Chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .SelectMany(c => c.GetProperty("choices")[0].TryGetProperty("token_ids", out var ids) ? ids.EnumerateArray().Select(x => x.GetInt32()) : [])];

        public string Text => string.Concat(Chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0).Select(c => c.GetProperty("choices")[0] is var choice
            && choice.TryGetProperty("text", out var text) ? text.GetString()
            : choice.GetProperty("delta").TryGetProperty("content", out var content) ? content.GetString() : ""));

        public JsonElement Usage => Chunks[^1].GetProperty("usage");
    }

    /// <summary>Reads a stream event by event; <paramref name="started"/> is set after its <paramref name="startAfter"/>th chunk
    /// (by default the third: a chat stream's role chunk and two tokens).</summary>
    private static async Task<Run> ReadAsync(HttpClient client, string path, string body, TaskCompletionSource? started, int startAfter = 3, string? requestId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Requests.Json(body) };
        if (requestId is not null)
        {
            request.Headers.Add("X-Request-Id", requestId); // tool-call ids are made from it
        }
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var chunks = new List<JsonElement>();
        string last = "";
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }
            last = line["data: ".Length..];
            if (last == "[DONE]")
            {
                break;
            }
            chunks.Add(JsonDocument.Parse(last).RootElement.Clone());
            if (chunks.Count == startAfter)
            {
                started?.TrySetResult();
            }
        }
        return new Run(Requests.Header(response, AttemptTransformer.BackendHeader), chunks, last);
    }

    [Theory]
    [InlineData(false, 16)]
    [InlineData(true, 8)]
    public async Task ReplicaSigkilledUnderStreams_EveryStreamCompletesUnbroken_GreedyAndSeededTokensEqualAnUnbrokenRun(bool seeded, int streams)
    {
        var (doomed, doomedUrl) = await ServeReplicas.StartOneAsync();
        var (survivor, survivorUrl) = await ServeReplicas.StartOneAsync();
        try
        {
            // the doomed replica weighted so every stream starts on it
            string yaml = $"models:\n  - name: demo\n    deployments:\n"
                + $"      - {{url: '{doomedUrl}', model: {ServeReplicas.BackendModel}, weight: 1000}}\n"
                + $"      - {{url: '{survivorUrl}', model: {ServeReplicas.BackendModel}, weight: 1}}\n"
                + "routing: {strategy: weighted-round-robin}\ntimeouts: {stream_idle: 60s}\n";
            await using var g = await TestGateway.StartAsync(yaml);
            var started = Enumerable.Range(0, streams).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToList();
            var runs = Enumerable.Range(0, streams).Select(i => ReadAsync(g.Client, Path(i), Body(i, "demo", seeded), started[i])).ToList();
            await Task.WhenAll(started.Select(s => s.Task)).WaitAsync(TimeSpan.FromMinutes(3));
            doomed.Kill(); // SIGKILL
            var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(5));

            using var direct = new HttpClient { BaseAddress = survivorUrl, Timeout = TimeSpan.FromMinutes(5) };
            var unbroken = await Task.WhenAll(Enumerable.Range(0, streams).Select(i => ReadAsync(direct, Path(i), Body(i, ServeReplicas.BackendModel, seeded), null)));
            for (int i = 0; i < streams; i++)
            {
                var run = results[i];
                Assert.Equal(doomedUrl.Authority, run.Backend);
                Assert.Equal("[DONE]", run.Last);
                Assert.Single(run.Chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
                Assert.Single(run.Chunks.Select(c => c.GetProperty("object").GetString()).Distinct());
                Assert.Equal(unbroken[i].Ids, run.Ids);
                Assert.Equal(unbroken[i].Text, run.Text);
                Assert.Equal(MaxTokens, run.Usage.GetProperty("completion_tokens").GetInt32());
                Assert.Equal(unbroken[i].Usage.GetProperty("prompt_tokens").GetInt32(), run.Usage.GetProperty("prompt_tokens").GetInt32());
            }
            Assert.Equal(streams, g.Gateway.Metrics.Continuations.Value("demo", "tokens", "ok"));
        }
        finally
        {
            ServeReplicas.Stop([doomed, survivor]);
        }
    }
    /// <summary>Several choices per stream: chat n 3 greedy and seeded, completions n 3 seeded, a prompt array of two with n 2.</summary>
    private static readonly (string Path, string Body, int Choices)[] MultiChoice =
    [
        ("/v1/chat/completions", """{"model": "MODEL", "messages": [{"role": "user", "content": "Tell story number 1"}], "n": 3, "temperature": 0, """, 3),
        ("/v1/completions", """{"model": "MODEL", "prompt": "Tell story number 2", "n": 3, "temperature": 20, "seed": 2000, """, 3),
        ("/v1/completions", """{"model": "MODEL", "prompt": ["Tell story number 3", "Once upon a time"], "n": 2, "temperature": 20, "seed": 3000, """, 4),
        ("/v1/chat/completions", """{"model": "MODEL", "messages": [{"role": "user", "content": "Tell story number 4"}], "n": 3, "temperature": 20, "seed": 4000, """, 3),
    ];

    private const int MultiMaxTokens = 150;

    private static string MultiBody(int i, string model) => MultiChoice[i].Body.Replace("MODEL", model, StringComparison.Ordinal)
        + $$"""
            "max_tokens": {{MultiMaxTokens}}, "ignore_eos": true, "stream": true, "stream_options": {"include_usage": true}, "return_token_ids": true}
            """;

    /// <summary>Each choice of a stream, by index: its token ids, text and finish_reason.</summary>
    private static SortedDictionary<int, (List<int> Ids, string Text, string? Finish)> PerChoice(List<JsonElement> chunks)
    {
        var choices = new SortedDictionary<int, (List<int> Ids, string Text, string? Finish)>();
        foreach (var c in chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray()))
        {
            int index = c.GetProperty("index").GetInt32();
            var (ids, text, finish) = choices.TryGetValue(index, out var was) ? was : ([], "", null);
            if (c.TryGetProperty("token_ids", out var tokens))
            {
                ids.AddRange(tokens.EnumerateArray().Select(t => t.GetInt32()));
            }
            text += c.TryGetProperty("text", out var t) ? t.GetString() : c.GetProperty("delta").TryGetProperty("content", out var content) ? content.GetString() : "";
            choices[index] = (ids, text, c.GetProperty("finish_reason").ValueKind == JsonValueKind.String ? c.GetProperty("finish_reason").GetString() : finish);
        }
        return choices;
    }

    [Fact]
    public async Task ReplicaSigkilledUnderMultiChoiceStreams_EveryChoiceContinuesOnItsOwn_AndEqualsAnUnbrokenRunPerIndex()
    {
        var (doomed, doomedUrl) = await ServeReplicas.StartOneAsync();
        var (survivor, survivorUrl) = await ServeReplicas.StartOneAsync();
        try
        {
            string yaml = $"models:\n  - name: demo\n    deployments:\n"
                + $"      - {{url: '{doomedUrl}', model: {ServeReplicas.BackendModel}, weight: 1000}}\n"
                + $"      - {{url: '{survivorUrl}', model: {ServeReplicas.BackendModel}, weight: 1}}\n"
                + "routing: {strategy: weighted-round-robin}\ntimeouts: {stream_idle: 60s}\n";
            await using var g = await TestGateway.StartAsync(yaml);
            int streams = MultiChoice.Length;
            var started = Enumerable.Range(0, streams).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToList();
            var runs = Enumerable.Range(0, streams).Select(i => ReadAsync(g.Client, MultiChoice[i].Path, MultiBody(i, "demo"), started[i], startAfter: 4 * MultiChoice[i].Choices)).ToList();
            await Task.WhenAll(started.Select(s => s.Task)).WaitAsync(TimeSpan.FromMinutes(3));
            doomed.Kill(); // SIGKILL: every choice of every stream is cut mid-answer
            var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(5));

            using var direct = new HttpClient { BaseAddress = survivorUrl, Timeout = TimeSpan.FromMinutes(5) };
            var unbroken = await Task.WhenAll(Enumerable.Range(0, streams).Select(i => ReadAsync(direct, MultiChoice[i].Path, MultiBody(i, ServeReplicas.BackendModel), null)));
            int continued = 0;
            for (int i = 0; i < streams; i++)
            {
                var run = results[i];
                Assert.Equal(doomedUrl.Authority, run.Backend);
                Assert.Equal("[DONE]", run.Last);
                Assert.Single(run.Chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
                var got = PerChoice(run.Chunks);
                var want = PerChoice(unbroken[i].Chunks);
                Assert.Equal(MultiChoice[i].Choices, want.Count);
                Assert.Equal(want.Keys, got.Keys);
                foreach (int index in want.Keys)
                {
                    Assert.Equal(MultiMaxTokens, got[index].Ids.Count);
                    Assert.Equal(want[index].Ids, got[index].Ids);
                    Assert.Equal(want[index].Text, got[index].Text);
                    Assert.Equal(want[index].Finish, got[index].Finish);
                }
                Assert.Equal(unbroken[i].Usage.GetProperty("prompt_tokens").GetInt32(), run.Usage.GetProperty("prompt_tokens").GetInt32());
                Assert.Equal(MultiMaxTokens * MultiChoice[i].Choices, run.Usage.GetProperty("completion_tokens").GetInt32());
                continued += MultiChoice[i].Choices;
            }
            // counted per choice continued
            Assert.Equal(continued, g.Gateway.Metrics.Continuations.Value("demo", "tokens", "ok"));
        }
        finally
        {
            ServeReplicas.Stop([doomed, survivor]);
        }
    }
    /// <summary>A forced call whose one argument is a long string: max_tokens ends it mid-arguments, long after the kill
    /// (some 360 tokens after it: with fewer, a loaded machine let the replica finish before the kill reached it).</summary>
    private static string ToolBody(string model, string sampling, int n) => $$"""
        {"model": "{{model}}", "messages": [{"role": "user", "content": "Tell a story"}], "tool_choice": "required", "n": {{n}}, {{sampling}},
         "tools": [{"type": "function", "function": {"name": "tell", "parameters": {"type": "object", "properties": {"story": {"type": "string", "minLength": 2000} }, "required": ["story"], "additionalProperties": false} } }],
         "max_tokens": 400, "ignore_eos": true, "stream": true, "stream_options": {"include_usage": true}, "return_token_ids": true}
        """;

    /// <summary>Each choice's tool calls as the client assembles them: id, name and arguments per call index.</summary>
    private static SortedDictionary<int, List<(string? Id, string Name, string Arguments)>> Calls(List<JsonElement> chunks)
    {
        var byChoice = new SortedDictionary<int, SortedDictionary<int, (string? Id, string Name, string Arguments)>>();
        foreach (var c in chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray()))
        {
            var calls = byChoice.TryGetValue(c.GetProperty("index").GetInt32(), out var had) ? had : byChoice[c.GetProperty("index").GetInt32()] = [];
            if (!c.GetProperty("delta").TryGetProperty("tool_calls", out var deltas))
            {
                continue;
            }
            foreach (var d in deltas.EnumerateArray())
            {
                int k = d.GetProperty("index").GetInt32();
                var (id, name, arguments) = calls.GetValueOrDefault(k, (null, "", ""));
                Assert.True(id is null || !d.TryGetProperty("id", out _), "a call's header came twice");
                var f = d.GetProperty("function");
                calls[k] = (d.TryGetProperty("id", out var i) ? i.GetString() : id, name + (f.TryGetProperty("name", out var nm) ? nm.GetString() : ""),
                    arguments + (f.TryGetProperty("arguments", out var a) ? a.GetString() : ""));
            }
        }
        return new(byChoice.ToDictionary(kv => kv.Key, kv => kv.Value.Values.ToList()));
    }

    [Fact]
    public async Task ReplicaSigkilledMidToolCall_TheArgumentsContinueUnderTheSameCallIndexAndId_AsAnUnbrokenRun()
    {
        var (doomed, doomedUrl) = await ServeReplicas.StartOneAsync();
        var (survivor, survivorUrl) = await ServeReplicas.StartOneAsync();
        try
        {
            string yaml = $"models:\n  - name: demo\n    deployments:\n"
                + $"      - {{url: '{doomedUrl}', model: {ServeReplicas.BackendModel}, weight: 1000}}\n"
                + $"      - {{url: '{survivorUrl}', model: {ServeReplicas.BackendModel}, weight: 1}}\n"
                + "routing: {strategy: weighted-round-robin}\ntimeouts: {stream_idle: 60s}\n";
            await using var g = await TestGateway.StartAsync(yaml);
            (string Sampling, int N)[] streams = [("\"temperature\": 0", 1), ("\"temperature\": 20, \"seed\": 51", 2)];
            var started = streams.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToList();
            // started once each choice had its role chunk and some 40 tokens: the call's id and name sent, its arguments under way
            var runs = streams.Select((x, i) => ReadAsync(g.Client, "/v1/chat/completions", ToolBody("demo", x.Sampling, x.N), started[i], startAfter: 41 * x.N, requestId: $"tool-{i}")).ToList();
            await Task.WhenAll(started.Select(s => s.Task)).WaitAsync(TimeSpan.FromMinutes(3));
            doomed.Kill(); // SIGKILL mid-call
            var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(5));

            using var direct = new HttpClient { BaseAddress = survivorUrl, Timeout = TimeSpan.FromMinutes(5) };
            var unbroken = await Task.WhenAll(streams.Select((x, i) => ReadAsync(direct, "/v1/chat/completions", ToolBody(ServeReplicas.BackendModel, x.Sampling, x.N), null, requestId: $"tool-{i}")));
            for (int i = 0; i < streams.Length; i++)
            {
                var run = results[i];
                Assert.Equal(doomedUrl.Authority, run.Backend);
                Assert.Equal("[DONE]", run.Last);
                var want = Calls(unbroken[i].Chunks);
                var got = Calls(run.Chunks);
                Assert.Equal(streams[i].N, want.Count);
                Assert.Equal(want.Keys, got.Keys);
                foreach (int index in want.Keys)
                {
                    var call = Assert.Single(want[index]);
                    Assert.Equal("tell", call.Name);
                    Assert.StartsWith("{\"story\": \"", call.Arguments.Replace("\":\"", "\": \"", StringComparison.Ordinal), StringComparison.Ordinal);
                    Assert.Equal(want[index], got[index]); // one call: the same id, name and arguments, nothing twice
                }
                var (wantChoices, gotChoices) = (PerChoice(unbroken[i].Chunks), PerChoice(run.Chunks));
                foreach (int index in wantChoices.Keys)
                {
                    Assert.Equal(wantChoices[index].Ids, gotChoices[index].Ids);
                    Assert.Equal(wantChoices[index].Finish, gotChoices[index].Finish);
                }
                Assert.Equal(unbroken[i].Usage.GetProperty("prompt_tokens").GetInt32(), run.Usage.GetProperty("prompt_tokens").GetInt32());
                Assert.Equal(unbroken[i].Usage.GetProperty("completion_tokens").GetInt32(), run.Usage.GetProperty("completion_tokens").GetInt32());
            }
            Assert.Equal(3, g.Gateway.Metrics.Continuations.Value("demo", "tokens", "ok"));
        }
        finally
        {
            ServeReplicas.Stop([doomed, survivor]);
        }
    }

    /// <summary>The gateway for a doomed replica (weighted so every stream starts on it) and a survivor.</summary>
    private static string TwoReplicas(Uri doomedUrl, Uri survivorUrl) => $"models:\n  - name: demo\n    deployments:\n"
        + $"      - {{url: '{doomedUrl}', model: {ServeReplicas.BackendModel}, weight: 1000}}\n"
        + $"      - {{url: '{survivorUrl}', model: {ServeReplicas.BackendModel}, weight: 1}}\n"
        + "routing: {strategy: weighted-round-robin}\ntimeouts: {stream_idle: 60s}\n";

    [Fact]
    public async Task ReplicaSigkilledUnderTokenIdPromptStreams_EveryChoiceEqualsAnUnbrokenRun()
    {
        var (doomed, doomedUrl) = await ServeReplicas.StartOneAsync();
        var (survivor, survivorUrl) = await ServeReplicas.StartOneAsync();
        try
        {
            using var direct = new HttpClient { BaseAddress = survivorUrl, Timeout = TimeSpan.FromMinutes(5) };
            async Task<string> IdsOf(string text)
            {
                using var response = await direct.PostAsync("/tokenize", Requests.Json(JsonSerializer.Serialize(new { prompt = text })));
                var tokens = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("tokens");
                return "[" + string.Join(",", tokens.EnumerateArray().Select(t => t.GetInt32())) + "]";
            }
            string one = await IdsOf("Tell story number 5"), two = await IdsOf("Once upon a time");
            // a list of ids (greedy), and an array of two id lists with n 2 (seeded): 1 and 4 choices
            (string Prompt, string Sampling, int Choices)[] streams =
                [(one, "\"temperature\": 0", 1), ($"[{one}, {two}]", "\"n\": 2, \"temperature\": 20, \"seed\": 5000", 4)];
            string Body(int i, string model) => $$"""
                {"model": "{{model}}", "prompt": {{streams[i].Prompt}}, {{streams[i].Sampling}}, "max_tokens": {{MultiMaxTokens}}, "ignore_eos": true, "stream": true, "stream_options": {"include_usage": true}, "return_token_ids": true}
                """;
            await using var g = await TestGateway.StartAsync(TwoReplicas(doomedUrl, survivorUrl));
            var started = streams.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToList();
            var runs = streams.Select((x, i) => ReadAsync(g.Client, "/v1/completions", Body(i, "demo"), started[i], startAfter: 4 * x.Choices)).ToList();
            await Task.WhenAll(started.Select(s => s.Task)).WaitAsync(TimeSpan.FromMinutes(3));
            doomed.Kill(); // SIGKILL mid-answer
            var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(5));

            var unbroken = await Task.WhenAll(streams.Select((_, i) => ReadAsync(direct, "/v1/completions", Body(i, ServeReplicas.BackendModel), null)));
            for (int i = 0; i < streams.Length; i++)
            {
                var run = results[i];
                Assert.Equal(doomedUrl.Authority, run.Backend);
                Assert.Equal("[DONE]", run.Last);
                Assert.Single(run.Chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
                var (got, want) = (PerChoice(run.Chunks), PerChoice(unbroken[i].Chunks));
                Assert.Equal(streams[i].Choices, want.Count);
                Assert.Equal(want.Keys, got.Keys);
                foreach (int index in want.Keys)
                {
                    Assert.Equal(MultiMaxTokens, got[index].Ids.Count);
                    Assert.Equal(want[index].Ids, got[index].Ids);
                    Assert.Equal(want[index].Text, got[index].Text);
                    Assert.Equal(want[index].Finish, got[index].Finish);
                }
                Assert.Equal(unbroken[i].Usage.GetProperty("prompt_tokens").GetInt32(), run.Usage.GetProperty("prompt_tokens").GetInt32());
                Assert.Equal(MultiMaxTokens * streams[i].Choices, run.Usage.GetProperty("completion_tokens").GetInt32());
            }
            Assert.Equal(5, g.Gateway.Metrics.Continuations.Value("demo", "tokens", "ok"));
        }
        finally
        {
            ServeReplicas.Stop([doomed, survivor]);
        }
    }

    private const string ChatWithTools = "\"messages\": [{\"role\": \"user\", \"content\": \"Tell a story\"}], \"tool_choice\": \"auto\", \"temperature\": 0, "
        + "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"tell\", \"parameters\": {\"type\": \"object\", \"properties\": {\"story\": {\"type\": \"string\"}}}}}], ";

    /// <summary>A chat with tools (the model free to answer in text) and a completion, each with a stop string.</summary>
    private static string StopBody(int i, string model, string? stop) => (i == 0
        ? $$"""{"model": "{{model}}", """ + ChatWithTools
        : $$"""{"model": "{{model}}", "prompt": "Tell story number 7", "temperature": 20, "seed": 7000, "include_stop_str_in_output": true, """)
        + (stop is null ? "" : $"\"stop\": [{JsonSerializer.Serialize(stop)}], ")
        + """ "max_tokens": 200, "ignore_eos": true, "stream": true, "stream_options": {"include_usage": true}, "return_token_ids": true}""";

    [Fact]
    public async Task ReplicaSigkilledWhileAStopStringIsHeldBack_TheContinuationStopsWhereAnUnbrokenRunStops()
    {
        var (doomed, doomedUrl) = await ServeReplicas.StartOneAsync();
        var (survivor, survivorUrl) = await ServeReplicas.StartOneAsync();
        try
        {
            using var direct = new HttpClient { BaseAddress = survivorUrl, Timeout = TimeSpan.FromMinutes(5) };
            string[] paths = ["/v1/chat/completions", "/v1/completions"];
            // the stop string: the text of tokens 20 to 139 of the answer without it, so from token 20 on the server holds
            // the text back (a possible start of it) and the kill, some 30 tokens in, cuts in the middle of it
            var stops = new string[2];
            for (int i = 0; i < 2; i++)
            {
                var plain = await ReadAsync(direct, paths[i], StopBody(i, ServeReplicas.BackendModel, null), null);
                var texts = plain.Chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
                    .Select(c => c.GetProperty("choices")[0]).Where(c => c.TryGetProperty("token_ids", out var t) && t.GetArrayLength() == 1)
                    .Select(c => c.TryGetProperty("text", out var t) ? t.GetString()! : c.GetProperty("delta").TryGetProperty("content", out var d) ? d.GetString() ?? "" : "").ToList();
                Assert.Equal(200, texts.Count);
                stops[i] = string.Concat(texts.Skip(20).Take(120));
                Assert.Equal(string.Concat(texts.Take(20)).Length, plain.Text.IndexOf(stops[i], StringComparison.Ordinal)); // nowhere earlier
            }
            await using var g = await TestGateway.StartAsync(TwoReplicas(doomedUrl, survivorUrl));
            var started = stops.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToList();
            var runs = Enumerable.Range(0, 2).Select(i => ReadAsync(g.Client, paths[i], StopBody(i, "demo", stops[i]), started[i], startAfter: 30)).ToList();
            await Task.WhenAll(started.Select(s => s.Task)).WaitAsync(TimeSpan.FromMinutes(3));
            doomed.Kill(); // SIGKILL while the stop string's start is held back
            var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(5));

            var unbroken = await Task.WhenAll(Enumerable.Range(0, 2).Select(i => ReadAsync(direct, paths[i], StopBody(i, ServeReplicas.BackendModel, stops[i]), null)));
            for (int i = 0; i < 2; i++)
            {
                var (run, want) = (results[i], unbroken[i]);
                Assert.Equal(doomedUrl.Authority, run.Backend);
                Assert.Equal("[DONE]", run.Last);
                var (gotChoice, wantChoice) = (PerChoice(run.Chunks)[0], PerChoice(want.Chunks)[0]);
                Assert.Equal("stop", wantChoice.Finish);
                Assert.Equal(140, wantChoice.Ids.Count); // it stopped at the stop string's last token
                Assert.Equal(wantChoice.Ids, gotChoice.Ids);
                Assert.Equal(wantChoice.Text, gotChoice.Text);
                Assert.Equal(wantChoice.Finish, gotChoice.Finish);
                Assert.Equal(want.Usage.GetProperty("completion_tokens").GetInt32(), run.Usage.GetProperty("completion_tokens").GetInt32());
                Assert.Equal(want.Usage.GetProperty("prompt_tokens").GetInt32(), run.Usage.GetProperty("prompt_tokens").GetInt32());
            }
            Assert.Equal(2, g.Gateway.Metrics.Continuations.Value("demo", "tokens", "ok"));
        }
        finally
        {
            ServeReplicas.Stop([doomed, survivor]);
        }
    }

    [Fact]
    public async Task ReplicaSigkilledUnderAStreamOfMoreThan128Choices_EveryChoiceEqualsAnUnbrokenRun()
    {
        var (doomed, doomedUrl) = await ServeReplicas.StartOneAsync();
        var (survivor, survivorUrl) = await ServeReplicas.StartOneAsync();
        try
        {
            // 34 prompts × n 4 = 136 choices, seeded: the replica runs 32 sequences at a time, so some choices have tokens
            // at the kill and some none yet; all are continued, at most 16 at once
            const int Prompts = 34, N = 4, Max = 24;
            string prompts = "[" + string.Join(", ", Enumerable.Range(0, Prompts).Select(p => $"\"Tell story number {p}\"")) + "]";
            string Body(string model) => $$"""
                {"model": "{{model}}", "prompt": {{prompts}}, "n": {{N}}, "temperature": 20, "seed": 9000, "max_tokens": {{Max}}, "ignore_eos": true, "stream": true, "stream_options": {"include_usage": true}, "return_token_ids": true}
                """;
            await using var g = await TestGateway.StartAsync(TwoReplicas(doomedUrl, survivorUrl));
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var run = ReadAsync(g.Client, "/v1/completions", Body("demo"), started, startAfter: 100);
            await started.Task.WaitAsync(TimeSpan.FromMinutes(3));
            doomed.Kill(); // SIGKILL mid-answer
            var result = await run.WaitAsync(TimeSpan.FromMinutes(8));

            using var direct = new HttpClient { BaseAddress = survivorUrl, Timeout = TimeSpan.FromMinutes(8) };
            var unbroken = await ReadAsync(direct, "/v1/completions", Body(ServeReplicas.BackendModel), null);
            Assert.Equal(doomedUrl.Authority, result.Backend);
            Assert.Equal("[DONE]", result.Last);
            var (got, want) = (PerChoice(result.Chunks), PerChoice(unbroken.Chunks));
            Assert.Equal(Prompts * N, want.Count);
            Assert.Equal(want.Keys, got.Keys);
            foreach (int index in want.Keys)
            {
                Assert.Equal(want[index].Ids, got[index].Ids);
                Assert.Equal(want[index].Text, got[index].Text);
                Assert.Equal(want[index].Finish, got[index].Finish);
            }
            Assert.Equal(unbroken.Usage.GetProperty("prompt_tokens").GetInt32(), result.Usage.GetProperty("prompt_tokens").GetInt32());
            Assert.Equal(Prompts * N * Max, result.Usage.GetProperty("completion_tokens").GetInt32());
            Assert.True(g.Gateway.Metrics.Continuations.Value("demo", "tokens", "ok") > 128);
        }
        finally
        {
            ServeReplicas.Stop([doomed, survivor]);
        }
    }
}
