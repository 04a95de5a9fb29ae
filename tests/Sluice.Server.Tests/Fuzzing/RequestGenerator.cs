using System.Globalization;
using System.Text;
using static Sluice.Server.Tests.Fuzzing.FuzzJson;
using Fields = System.Collections.Generic.List<System.Collections.Generic.KeyValuePair<string, byte[]>>;

namespace Sluice.Server.Tests.Fuzzing;

/// <summary>Which groups <see cref="RequestGenerator"/> makes.</summary>
internal enum FuzzMix
{
    /// <summary>Mostly single requests at every route, now and then a burst.</summary>
    Everything,

    /// <summary>Only bursts of concurrent n > 1 requests whose n add up past --max-num-seqs.</summary>
    NBursts,
}

/// <summary>
/// Makes requests for every route of `sluice serve` from one seed: a valid request, then none, one or a few of
/// its fields changed (wrong JSON types, values at and past their ranges, text of every kind including lone
/// surrogates and raw invalid UTF-8), sometimes the body itself broken, sometimes a client that walks away;
/// bursts of requests past --max-num-seqs and the queue; prompts at the context limit. The same seed gives
/// the same requests in the same order.
/// </summary>
internal sealed class RequestGenerator
{
    private static readonly string[] GetRoutes = ["/v1/models", "/health", "/health/live", "/health/ready", "/version", "/metrics", "/health/liveness", "/health/readiness"];
    private static readonly string[] PostRoutes = ["/v1/completions", "/v1/chat/completions", "/tokenize", "/detokenize", "/v1/predict", "/admin/warmup", "/v1/embeddings"];

    private readonly FuzzTarget _t;
    private readonly Random _rng;
    private readonly FuzzValues _v;
    private readonly FuzzMix _mix;
    private int _index;
    private int _group;

    public RequestGenerator(FuzzTarget target, int seed, FuzzMix mix = FuzzMix.Everything)
    {
        _t = target;
        _rng = new Random(seed);
        _v = new FuzzValues(_rng);
        _mix = mix;
    }

    public FuzzGroup Next()
    {
        int id = _group++;
        double r = _rng.NextDouble();
        if (_mix == FuzzMix.NBursts || r < 0.06)
        {
            return NBurst(id);
        }
        if (r < 0.09)
        {
            return QueueBurst(id);
        }
        return new FuzzGroup(id, "single", [Single(id)]);
    }

    private bool Chance(double p) => _rng.NextDouble() < p;

    private FuzzRequest Single(int group)
    {
        int r = _rng.Next(100);
        return r switch
        {
            < 28 => Completion(group),
            < 54 => Chat(group),
            < 61 => Tokenize(group),
            < 67 => Detokenize(group),
            < 70 => Predict(group),
            < 73 => Embeddings(group),
            < 75 => Warmup(group),
            < 86 => Get(group),
            < 89 => OddRoute(group),
            _ => NearContext(group),
        };
    }

    // ---- routes -------------------------------------------------------------------------------------------

    private FuzzRequest Completion(int group)
    {
        int maxTokens = _rng.Next(1, 25);
        var (f, prompts, n, logprobs) = CompletionBase(maxTokens);
        var mutation = Mutate(f, CompletionMutators(), ["prompt"]);
        bool shapeKnown = !mutation.Touched.Overlaps(["n", "best_of", "prompt"]);
        return Finish(group, "/v1/completions", f, mutation, shapeKnown ? prompts * n : null, maxTokens, logprobs);
    }

    private FuzzRequest Chat(int group)
    {
        int maxTokens = _rng.Next(1, 25);
        var (f, n, logprobs) = ChatBase(maxTokens);
        var mutation = Mutate(f, ChatMutators(), ["messages"]);
        bool shapeKnown = !mutation.Touched.Overlaps(["n", "messages"]);
        return Finish(group, "/v1/chat/completions", f, mutation, shapeKnown ? n : null, maxTokens, logprobs);
    }

    private FuzzRequest Tokenize(int group)
    {
        var f = new Fields();
        if (Chance(0.3))
        {
            Set(f, "model", Str(_t.Model));
        }
        bool text = Chance(0.7);
        if (text)
        {
            Set(f, "prompt", _v.ValidText().Json);
            if (Chance(0.3))
            {
                Set(f, "add_special_tokens", Bool(Chance(0.5)));
            }
        }
        else
        {
            Set(f, "messages", Messages());
            if (Chance(0.3))
            {
                Set(f, "add_generation_prompt", Bool(Chance(0.5)));
            }
        }
        // one of prompt and messages: both at once is a 400 the server cannot pin on the field the mutation added
        var table = new Dictionary<string, Func<FuzzValue>>
        {
            [text ? "prompt" : "messages"] = text ? () => _v.AnyText(_t.MaxModelLen) : MessagesMutation,
            ["add_special_tokens"] = _v.WrongType,
            ["add_generation_prompt"] = _v.WrongType,
            ["model"] = ModelMutation,
        };
        return Finish(group, "/tokenize", f, Mutate(f, table, []), null);
    }

    private FuzzRequest Detokenize(int group)
    {
        var f = new Fields();
        if (Chance(0.3))
        {
            Set(f, "model", Str(_t.Model));
        }
        Set(f, "tokens", Arr(Ids(_rng.Next(1, 60))));
        var table = new Dictionary<string, Func<FuzzValue>>
        {
            ["tokens"] = () => _rng.Next(9) switch
            {
                0 => new(Raw("[]"), "empty"),
                1 => new(Arr([Int(-1)]), "[-1]"),
                2 => new(Arr([Int(_t.VocabSize)]), "[vocab size]"),
                3 => new(Arr([Raw("2147483648")]), "[2^31]"),
                4 => new(Arr([Raw("1.5")]), "[1.5]"),
                5 => new(Arr([Arr(Ids(3))]), "nested list"),
                6 => new(Arr(Ids(_rng.Next(5_000, 30_000))), "many tokens"),
                7 => new(Arr([Int(1), Null]), "[1, null]"),
                _ => _v.WrongType(),
            },
            ["model"] = ModelMutation,
        };
        return Finish(group, "/detokenize", f, Mutate(f, table, ["tokens"]), null);
    }

    private FuzzRequest Embeddings(int group)
    {
        var f = new Fields();
        if (Chance(0.3))
        {
            Set(f, "model", Str(_t.Model));
        }
        Set(f, "input", Chance(0.5) ? _v.ValidText().Json : Arr(Ids(_rng.Next(1, 20))));
        if (Chance(0.3))
        {
            Set(f, "encoding_format", Str(Chance(0.5) ? "float" : "base64"));
        }
        var table = new Dictionary<string, Func<FuzzValue>>
        {
            ["input"] = PromptMutation,
            ["encoding_format"] = () => _rng.Next(3) switch
            {
                0 => new(Str("int8"), "\"int8\""),
                1 => new(Str(""), "empty"),
                _ => _v.WrongType(),
            },
            ["dimensions"] = () => _v.EdgeInt(0, 1, 8, int.MaxValue),
            ["model"] = ModelMutation,
        };
        return Finish(group, "/v1/embeddings", f, Mutate(f, table, ["input"]), null);
    }

    private FuzzRequest Predict(int group)
    {
        var f = new Fields();
        if (Chance(0.3))
        {
            Set(f, "model", Str(_t.Model));
        }
        Set(f, "text", _v.ValidText().Json);
        if (Chance(0.8))
        {
            Set(f, "max_tokens", Int(_rng.Next(1, 20)));
        }
        if (Chance(0.5))
        {
            Set(f, "temperature", Num(Math.Round(_rng.NextDouble() * 1.5, 2)));
        }
        if (Chance(0.3))
        {
            Set(f, "seed", Int(_rng.NextInt64()));
        }
        var table = new Dictionary<string, Func<FuzzValue>>
        {
            ["text"] = () => _v.AnyText(_t.MaxModelLen),
            ["max_tokens"] = () => _v.EdgeInt(0, -1, 1, _t.MaxModelLen - 1, _t.MaxModelLen, int.MaxValue),
            ["temperature"] = () => _v.EdgeFloat(0, -0.5, 2, 100, 100.5),
            ["seed"] = () => _v.EdgeInt(int.MinValue, -1, 0),
            ["model"] = ModelMutation,
        };
        return Finish(group, "/v1/predict", f, Mutate(f, table, ["text"]), null);
    }

    private FuzzRequest Warmup(int group)
    {
        byte[]? body = _rng.Next(3) switch
        {
            0 => null,
            1 => Raw("{}"),
            _ => Obj(("x", _v.WrongType().Json)),
        };
        return new FuzzRequest { Index = _index++, Group = group, Method = "POST", Path = "/admin/warmup", Body = body, ContentType = body is null ? null : "application/json", Cancel = RandomCancel(body, stream: false) };
    }

    private FuzzRequest Get(int group)
    {
        string path = _v.Pick(GetRoutes);
        var notes = new List<string>();
        if (Chance(0.2))
        {
            string query = _rng.Next(4) switch
            {
                0 => "?verbose=1",
                1 => "?format=json&x=%00%ff",
                2 => "?" + new string('q', _rng.Next(100, 3000)),
                _ => "?a=1&a=2&b=%E2%9C%93",
            };
            path += query;
            notes.Add("query " + (query.Length > 40 ? query[..40] + "..." : query));
        }
        return new FuzzRequest { Index = _index++, Group = group, Method = "GET", Path = path, Body = null, ContentType = null, Notes = notes, Cancel = Chance(0.05) ? new(CancelKind.AfterMs, _rng.Next(0, 5)) : CancelPlan.None };
    }

    /// <summary>Wrong methods, unknown paths, odd spellings of known ones.</summary>
    private FuzzRequest OddRoute(int group)
    {
        (string method, string path, byte[]? body) = _rng.Next(8) switch
        {
            0 => ("POST", _v.Pick(GetRoutes), (byte[]?)Raw("{}")),
            1 => ("GET", _v.Pick(PostRoutes), null),
            2 => (_v.Pick(["PUT", "DELETE", "PATCH", "OPTIONS"]), _v.Pick(PostRoutes), Raw("{}")),
            3 => ("POST", "/v1/completions/", Obj(("prompt", Str("hi")), ("max_tokens", Int(2)))),
            4 => ("POST", "/V1/Chat/Completions", Obj(("messages", Messages()), ("max_tokens", Int(2)))),
            5 => ("GET", "/v2/" + _v.Sentence(1, 2).Replace(' ', '/'), null),
            6 => ("POST", "/v1/completions%00", Raw("{}")),
            _ => ("GET", "/%ff%fe/" + new string('a', _rng.Next(1, 500)), null),
        };
        return new FuzzRequest
        {
            Index = _index++,
            Group = group,
            Method = method,
            Path = path,
            Body = body,
            ContentType = body is null ? null : "application/json",
            Notes = ["odd route"],
            HttpLevel = path.Contains("%00", StringComparison.Ordinal),
        };
    }

    /// <summary>A prompt of token ids at the context limit, with max_tokens that fit exactly, overflow by one, or are left out.</summary>
    private FuzzRequest NearContext(int group)
    {
        int m = _t.MaxModelLen;
        if (Chance(0.25))
        {
            // chat: the template adds a few tokens; no exact expectation, only that nothing breaks
            var chat = new Fields();
            string content = string.Concat(Enumerable.Repeat("ab ", (m + _rng.Next(-30, 10)) / 3));
            Set(chat, "messages", Arr([Obj(("role", Str("user")), ("content", Str(content)))]));
            if (Chance(0.5))
            {
                Set(chat, "max_tokens", Int(_rng.Next(1, 8)));
            }
            bool stream = Chance(0.5);
            Set(chat, "stream", Bool(stream));
            return new FuzzRequest
            {
                Index = _index++,
                Group = group,
                Method = "POST",
                Path = "/v1/chat/completions",
                Body = Obj(chat),
                Notes = [$"chat message of {content.Length} chars (max-model-len {m})"],
                Cancel = RandomCancel(null, stream),
            };
        }
        int length = m + _v.Pick([-40, -17, -2, -1, 0, 1, 3]);
        var options = new List<int?> { null, 1, 2, m - length, m - length + 1 }.Where(x => x is null or >= 1).ToList();
        int? maxTokens = _v.Pick(options);
        bool fits = length < m && (maxTokens is null || length + maxTokens <= m);
        var f = new Fields();
        Set(f, "prompt", Arr(Ids(length)));
        if (maxTokens is { } mt)
        {
            Set(f, "max_tokens", Int(mt));
        }
        Set(f, "temperature", Int(0));
        bool streamed = Chance(0.4);
        if (streamed)
        {
            Set(f, "stream", True);
        }
        return new FuzzRequest
        {
            Index = _index++,
            Group = group,
            Method = "POST",
            Path = "/v1/completions",
            Body = Obj(f),
            Notes = [$"prompt of {length} token ids, max_tokens {(maxTokens?.ToString(CultureInfo.InvariantCulture) ?? "absent")} (max-model-len {m})"],
            Context = new ContextExpectation(length, maxTokens, fits),
            ExpectedChoices = 1,
        };
    }

    /// <summary>2-4 valid requests with n > 1, sent together, whose n add up past --max-num-seqs.</summary>
    private FuzzGroup NBurst(int group)
    {
        if (Chance(0.3))
        {
            return MultiPromptN(group);
        }
        int count = _rng.Next(2, 5);
        var ns = Enumerable.Range(0, count).Select(_ => _rng.Next(2, _t.MaxNumSeqs + 1)).ToArray();
        while (ns.Sum() <= _t.MaxNumSeqs)
        {
            ns[_rng.Next(count)]++;
        }
        var requests = new List<FuzzRequest>();
        foreach (int n in ns.Select(x => Math.Min(x, _t.MaxNumSeqs)))
        {
            bool chat = Chance(0.5);
            Fields f;
            if (chat)
            {
                (f, _, _) = ChatBase(maxTokens: _rng.Next(4, 25), plain: true);
            }
            else
            {
                (f, _, _, _) = CompletionBase(maxTokens: _rng.Next(4, 25), plain: true);
            }
            Set(f, "n", Int(n));
            if (Chance(0.5))
            {
                Set(f, "temperature", Num(0.9));
            }
            bool stream = Chance(0.5);
            Set(f, "stream", Bool(stream));
            var body = Obj(f);
            requests.Add(new FuzzRequest
            {
                Index = _index++,
                Group = group,
                Method = "POST",
                Path = chat ? "/v1/chat/completions" : "/v1/completions",
                Body = body,
                Notes = [$"n = {n} (burst of {count}, n summing to {ns.Sum()} > max-num-seqs {_t.MaxNumSeqs})"],
                ExpectedChoices = n,
                Cancel = Chance(0.15) ? RandomCancel(body, stream, always: true) : CancelPlan.None,
            });
        }
        return new FuzzGroup(group, "n-burst", requests);
    }

    /// <summary>
    /// One completions request with several prompts and n > 1 whose prompts × n pass --max-num-seqs but fit the queue:
    /// its engine requests arrive together, so the scheduler takes them in the same step.
    /// </summary>
    private FuzzGroup MultiPromptN(int group)
    {
        int limit = _t.MaxNumSeqs + _t.MaxNumQueuedReqs;
        int prompts = _rng.Next(2, 4);
        int n = Math.Min(_t.MaxNumSeqs, (_t.MaxNumSeqs / prompts) + 1 + _rng.Next(0, 3));
        while (prompts * n > limit)
        {
            n--;
        }
        var f = new Fields();
        Set(f, "prompt", Arr(Enumerable.Range(0, prompts).Select(_ => Str(_v.Sentence(1, 3)))));
        Set(f, "max_tokens", Int(_rng.Next(4, 25)));
        Set(f, "n", Int(n));
        bool stream = Chance(0.5);
        Set(f, "stream", Bool(stream));
        var request = new FuzzRequest
        {
            Index = _index++,
            Group = group,
            Method = "POST",
            Path = "/v1/completions",
            Body = Obj(f),
            Notes = [$"{prompts} prompts x n = {n}: {prompts * n} sequences at once > max-num-seqs {_t.MaxNumSeqs}"],
            ExpectedChoices = prompts * n,
        };
        return new FuzzGroup(group, "n-burst", [request]);
    }

    /// <summary>More valid requests at once than --max-num-seqs plus --max-num-queued-reqs: some must get 429.</summary>
    private FuzzGroup QueueBurst(int group)
    {
        int count = _t.MaxNumSeqs + _t.MaxNumQueuedReqs + _rng.Next(1, 9);
        var requests = new List<FuzzRequest>();
        for (int i = 0; i < count; i++)
        {
            bool chat = Chance(0.5);
            Fields f;
            if (chat)
            {
                (f, _, _) = ChatBase(maxTokens: _rng.Next(4, 33), plain: true);
            }
            else
            {
                (f, _, _, _) = CompletionBase(maxTokens: _rng.Next(4, 33), plain: true);
            }
            bool stream = Chance(0.5);
            Set(f, "stream", Bool(stream));
            var body = Obj(f);
            requests.Add(new FuzzRequest
            {
                Index = _index++,
                Group = group,
                Method = "POST",
                Path = chat ? "/v1/chat/completions" : "/v1/completions",
                Body = body,
                Notes = [$"burst of {count} requests (max-num-seqs {_t.MaxNumSeqs} + queue {_t.MaxNumQueuedReqs})"],
                ExpectedChoices = 1,
                Cancel = Chance(0.1) ? RandomCancel(body, stream, always: true) : CancelPlan.None,
            });
        }
        return new FuzzGroup(group, "queue-burst", requests);
    }

    // ---- valid requests -----------------------------------------------------------------------------------

    /// <returns>The fields, the number of prompts, n, and the top log-probabilities asked for (null: none).</returns>
    private (Fields Fields, int Prompts, int N, int? Logprobs) CompletionBase(int maxTokens, bool plain = false)
    {
        var f = new Fields();
        if (Chance(0.5))
        {
            Set(f, "model", Str(_t.Model));
        }
        int prompts = 1;
        switch (plain ? 0 : _rng.Next(10))
        {
            case < 6:
                Set(f, "prompt", plain ? Str(_v.Sentence()) : _v.ValidText().Json);
                break;
            case 6:
                prompts = _rng.Next(1, 4);
                Set(f, "prompt", Arr(Enumerable.Range(0, prompts).Select(_ => Str(_v.Sentence()))));
                break;
            case < 9:
                Set(f, "prompt", Arr(Ids(_rng.Next(1, 40))));
                break;
            default:
                prompts = _rng.Next(1, 3);
                Set(f, "prompt", Arr(Enumerable.Range(0, prompts).Select(_ => Arr(Ids(_rng.Next(1, 20))))));
                break;
        }
        Set(f, "max_tokens", Int(maxTokens));
        int n = 1;
        int? logprobs = null;
        bool stream = false;
        if (!plain)
        {
            if (Chance(0.2))
            {
                n = _rng.Next(1, 4);
                Set(f, "n", Int(n));
                if (Chance(0.3))
                {
                    Set(f, "best_of", Int(n));
                }
            }
            stream = AddStreaming(f);
            if (Chance(0.15))
            {
                logprobs = _rng.Next(0, 6);
                Set(f, "logprobs", Int(logprobs.Value));
            }
            AddSampling(f, maxTokens);
            if (Chance(0.1))
            {
                Set(f, "echo", False);
            }
            if (Chance(0.1))
            {
                Set(f, "add_special_tokens", Bool(Chance(0.5)));
            }
        }
        return (f, prompts, n, logprobs);
    }

    // stream (sometimes false explicitly) and, independently, stream_options; returns whether the request streams
    private bool AddStreaming(Fields f)
    {
        bool stream = Chance(0.45);
        if (stream || Chance(0.1))
        {
            Set(f, "stream", Bool(stream));
        }
        if (stream && Chance(0.35))
        {
            // only with stream true: without it the server refuses stream_options (400 naming it), as OpenAI does
            Set(f, "stream_options", Obj(("include_usage", Bool(Chance(0.5)))));
        }
        return stream;
    }

    /// <returns>The fields, n, and the top log-probabilities asked for (null: none).</returns>
    private (Fields Fields, int N, int? Logprobs) ChatBase(int maxTokens, bool plain = false)
    {
        var f = new Fields();
        if (Chance(0.5))
        {
            Set(f, "model", Str(_t.Model));
        }
        Set(f, "messages", plain ? Arr([Obj(("role", Str("user")), ("content", Str(_v.Sentence())))]) : Messages());
        Set(f, Chance(0.5) ? "max_tokens" : "max_completion_tokens", Int(maxTokens));
        int n = 1;
        int? logprobs = null;
        bool stream = false;
        if (!plain)
        {
            if (Chance(0.2))
            {
                n = _rng.Next(1, 4);
                Set(f, "n", Int(n));
            }
            stream = AddStreaming(f);
            if (Chance(0.15))
            {
                Set(f, "logprobs", True);
                logprobs = 0;
                if (Chance(0.7))
                {
                    logprobs = _rng.Next(0, 6);
                    Set(f, "top_logprobs", Int(logprobs.Value));
                }
            }
            AddSampling(f, maxTokens);
            if (Chance(0.05))
            {
                Set(f, "tool_choice", Str("none"));
            }
            if (Chance(0.05))
            {
                Set(f, "chat_template_kwargs", Obj(("enable_thinking", False)));
            }
        }
        return (f, n, logprobs);
    }

    private void AddSampling(Fields f, int maxTokens)
    {
        if (Chance(0.6))
        {
            Set(f, "temperature", Chance(0.5) ? Int(0) : Num(Math.Round(_rng.NextDouble() * 1.5, 2)));
        }
        if (Chance(0.15))
        {
            Set(f, "top_p", Num(Math.Round(0.05 + (_rng.NextDouble() * 0.95), 2)));
        }
        if (Chance(0.15))
        {
            Set(f, "top_k", Int(_rng.Next(-1, 50)));
        }
        if (Chance(0.1))
        {
            Set(f, "min_p", Num(Math.Round(_rng.NextDouble() * 0.5, 2)));
        }
        if (Chance(0.1))
        {
            Set(f, "repetition_penalty", Num(Math.Round(0.5 + (_rng.NextDouble() * 1.5), 2)));
        }
        if (Chance(0.1))
        {
            Set(f, "presence_penalty", Num(Math.Round((_rng.NextDouble() * 4) - 2, 2)));
        }
        if (Chance(0.1))
        {
            Set(f, "frequency_penalty", Num(Math.Round((_rng.NextDouble() * 4) - 2, 2)));
        }
        if (Chance(0.3))
        {
            Set(f, "seed", Int(_rng.NextInt64(-1_000_000, 1_000_000_000)));
        }
        if (Chance(0.2))
        {
            Set(f, "stop", Chance(0.3) ? Str(_v.Sentence(1, 1)) : Arr(Enumerable.Range(0, _rng.Next(1, 5)).Select(_ => Chance(0.2) ? _v.ValidText().Json : Str(_v.Sentence(1, 2)))));
        }
        if (Chance(0.25))
        {
            Set(f, "ignore_eos", Bool(Chance(0.7)));
        }
        if (Chance(0.05))
        {
            Set(f, "min_tokens", Int(_rng.Next(0, maxTokens + 1)));
        }
        if (Chance(0.05))
        {
            Set(f, "stop_token_ids", Arr(Ids(_rng.Next(0, 4))));
        }
        if (Chance(0.05))
        {
            Set(f, "logit_bias", Obj(Ids(_rng.Next(1, 4)).Select(id => KeyValuePair.Create(Encoding.ASCII.GetString(id), Int(_rng.Next(-100, 101))))));
        }
        if (Chance(0.05))
        {
            Set(f, "include_stop_str_in_output", Bool(Chance(0.5)));
        }
        if (Chance(0.05))
        {
            Set(f, "user", Str(_v.Sentence(1, 1)));
        }
        if (Chance(0.03))
        {
            Set(f, "response_format", Obj(("type", Str("text"))));
        }
        if (Chance(0.03))
        {
            Set(f, "priority", Int(_rng.Next(0, 5)));
        }
    }

    private byte[] Messages()
    {
        var messages = new List<byte[]>();
        if (Chance(0.3))
        {
            messages.Add(Obj(("role", Str(Chance(0.5) ? "system" : "developer")), ("content", Str(_v.Sentence()))));
        }
        int turns = _rng.Next(0, 3);
        for (int i = 0; i < turns; i++)
        {
            messages.Add(Obj(("role", Str("user")), ("content", Str(_v.Sentence()))));
            messages.Add(Obj(("role", Str("assistant")), ("content", Str(_v.Sentence()))));
        }
        var content = Chance(0.2)
            ? Arr([Obj(("type", Str("text")), ("text", _v.ValidText().Json)), Obj(("type", Str("text")), ("text", Str(_v.Sentence())))])
            : _v.ValidText().Json;
        messages.Add(Obj(("role", Str("user")), ("content", content)));
        return Arr(messages);
    }

    // ---- mutations ----------------------------------------------------------------------------------------

    private Dictionary<string, Func<FuzzValue>> SamplingMutators() => new()
    {
        ["model"] = ModelMutation,
        ["max_tokens"] = () => _v.EdgeInt(0, -1, 1, _t.MaxModelLen - 1, _t.MaxModelLen, _t.MaxModelLen + 1, int.MaxValue),
        ["temperature"] = () => _v.EdgeFloat(0, -0.5, 2, 100, 100.5, 1e-9),
        ["top_p"] = () => _v.EdgeFloat(0, 1, 1.0001, -0.1, 1e-9),
        ["top_k"] = () => _v.EdgeInt(-2, -1, 0, 1, _t.VocabSize, _t.VocabSize + 1, int.MaxValue),
        ["min_p"] = () => _v.EdgeFloat(0, 1, 1.5, -0.1),
        ["repetition_penalty"] = () => _v.EdgeFloat(0, 10, 10.5, -1),
        ["presence_penalty"] = () => _v.EdgeFloat(-2, 2, 2.1, -2.1),
        ["frequency_penalty"] = () => _v.EdgeFloat(-2, 2, 2.1, -2.1),
        ["n"] = () => _v.EdgeInt(0, -1, 1, 2, _t.MaxNumSeqs, _t.MaxNumSeqs + 1, 16, 17, 100, _t.MaxNumSeqs + _t.MaxNumQueuedReqs + 1),
        ["stream"] = () => Chance(0.5) ? new(Str("true"), "\"true\"") : _v.WrongType(),
        ["stream_options"] = () => _rng.Next(6) switch
        {
            0 => new(Obj(("include_usage", _v.WrongType().Json)), "include_usage of a wrong type"),
            1 => new(Str("yes"), "a string"),
            2 => new(Raw("[]"), "an array"),
            3 => new(Obj(("include_usage", True), ("continuous_usage_stats", True)), "continuous_usage_stats"),
            4 => new(Null, "null"),
            _ => new(Obj(("include_usage", True)), "include_usage true"),
        },
        ["stop"] = () => _rng.Next(9) switch
        {
            0 => new(Str(""), "empty string"),
            1 => new(Arr(Enumerable.Range(0, 17).Select(i => Str("s" + i))), "17 strings"),
            2 => new(Arr(Enumerable.Range(0, 16).Select(i => Str("😀" + i))), "16 emoji strings"),
            3 => new(Arr([Str("")]), "[\"\"]"),
            4 => new(Arr([Int(1)]), "[1]"),
            5 => new(Arr([Str(new string('z', _rng.Next(500, 5000)))]), "a long stop string"),
            6 => _v.AnyText(16),
            7 => new(Arr([_v.AnyText(16).Json, Str("b")]), "list with odd text"),
            _ => _v.WrongType(),
        },
        ["seed"] = () => _rng.Next(3) == 0
            ? new(Raw(_v.Pick(["9223372036854775808", "-9223372036854775809", "1e19", "1.5", "-0"])), "seed past long")
            : _v.EdgeInt(int.MinValue, -1, 0),
        ["logit_bias"] = () => _rng.Next(9) switch
        {
            0 => new(Obj(("0", Raw("100.5"))), "bias past 100"),
            1 => new(Obj(("-1", Int(1))), "token -1"),
            2 => new(Obj((_t.VocabSize.ToString(CultureInfo.InvariantCulture), Int(1))), "token = vocab size"),
            3 => new(Obj(("abc", Int(1))), "non-numeric key"),
            4 => new(Obj(("1", Str("x"))), "string bias"),
            5 => new(Obj(("1", Raw("1e400"))), "bias beyond double"),
            6 => new(Obj(("99999999999", Int(1))), "key past int"),
            7 => new(Obj(Enumerable.Range(0, 300).Select(i => KeyValuePair.Create(i.ToString(CultureInfo.InvariantCulture), Int(-100)))), "300 entries"),
            _ => _v.WrongType(),
        },
        ["ignore_eos"] = _v.WrongType,
        ["min_tokens"] = () => _v.EdgeInt(-1, 0, 25, 1_000_000),
        ["stop_token_ids"] = () => _rng.Next(5) switch
        {
            0 => new(Arr([Int(-1)]), "[-1]"),
            1 => new(Arr([Int(_t.VocabSize)]), "[vocab size]"),
            2 => new(Arr([Raw("1.5")]), "[1.5]"),
            3 => new(Arr(Ids(1000)), "1000 ids"),
            _ => _v.WrongType(),
        },
        ["priority"] = () => _v.EdgeInt(-1, 0, int.MaxValue, int.MinValue),
        ["response_format"] = () => _rng.Next(4) switch
        {
            0 => new(Obj(("type", Str("json_object"))), "json_object"),
            1 => new(Obj(("type", Int(5))), "type 5"),
            2 => new(Raw("{}"), "{}"),
            _ => _v.WrongType(),
        },
        ["user"] = () => Chance(0.5) ? _v.AnyText(100) : _v.WrongType(),
        ["include_stop_str_in_output"] = _v.WrongType,
    };

    private Dictionary<string, Func<FuzzValue>> CompletionMutators()
    {
        var table = SamplingMutators();
        table["prompt"] = PromptMutation;
        table["best_of"] = () => _v.EdgeInt(0, 1, 2, 3, 17);
        table["logprobs"] = () => Chance(0.7) ? _v.EdgeInt(0, 1, 5, 20, 21, -1, 100) : _v.WrongType();
        table["echo"] = () => Chance(0.5) ? new(True, "true") : _v.WrongType();
        table["suffix"] = () => Chance(0.5) ? new(Str("x"), "\"x\"") : _v.WrongType();
        table["add_special_tokens"] = _v.WrongType;
        return table;
    }

    private Dictionary<string, Func<FuzzValue>> ChatMutators()
    {
        var table = SamplingMutators();
        table["messages"] = MessagesMutation;
        table["max_completion_tokens"] = table["max_tokens"];
        table["logprobs"] = () => Chance(0.5) ? new(Int(5), "5") : _v.WrongType();
        table["top_logprobs"] = () => _v.EdgeInt(0, 5, 20, 21, -1, 100);
        table["tools"] = () => _rng.Next(4) switch
        {
            0 => new(Arr([Obj(("type", Str("function")), ("function", Obj(("name", Str("f")), ("parameters", Raw("{}")))))]), "one tool"),
            1 => new(Arr([Int(1)]), "[1]"),
            2 => new(Str("tools"), "a string"),
            _ => _v.WrongType(),
        };
        table["tool_choice"] = () => _rng.Next(4) switch
        {
            0 => new(Str("required"), "\"required\""),
            1 => new(Obj(("type", Str("function")), ("function", Obj(("name", Str("f"))))), "a named function"),
            2 => new(Str("auto"), "\"auto\""),
            _ => _v.WrongType(),
        };
        table["add_generation_prompt"] = _v.WrongType;
        table["continue_final_message"] = () => Chance(0.5) ? new(True, "true") : _v.WrongType();
        table["chat_template_kwargs"] = () => Chance(0.5) ? new(Obj(("x", Raw("[[[[1]]]]"))), "nested value") : _v.WrongType();
        return table;
    }

    private FuzzValue ModelMutation() => _rng.Next(5) switch
    {
        0 => new(Str("no-such-model"), "unknown model"),
        1 => new(Str(""), "empty model"),
        2 => new(Str(_t.Model.ToUpperInvariant() + " "), "model in other case"),
        3 => _v.AnyText(64),
        _ => _v.WrongType(),
    };

    private FuzzValue PromptMutation()
    {
        int vocab = _t.VocabSize;
        return _rng.Next(14) switch
        {
            0 => new(Raw("[]"), "[]"),
            1 => new(Raw("[[]]"), "[[]]"),
            2 => new(Arr([Int(1), Str("a")]), "[1, \"a\"]"),
            3 => new(Arr([Str("a"), Int(1)]), "[\"a\", 1]"),
            4 => new(Arr([Int(-1)]), "[-1]"),
            5 => new(Arr([Int(vocab)]), "[vocab size]"),
            6 => new(Arr([Raw("2147483648")]), "[2^31]"),
            7 => new(Arr([Raw("1.5")]), "[1.5]"),
            8 => new(Arr([Arr(Ids(2)), Arr([Int(vocab + 5)])]), "second id list out of vocabulary"),
            9 => new(Arr([Null]), "[null]"),
            10 => new(Arr(Enumerable.Range(0, _rng.Next(17, 40)).Select(_ => Str(_v.Sentence(1, 2)))), "more prompts than slots"),
            11 => new(Arr(Ids(_t.MaxModelLen + _rng.Next(0, 10))), "ids past the context"),
            _ => _v.AnyText(_t.MaxModelLen),
        };
    }

    private FuzzValue MessagesMutation()
    {
        FuzzValue Message(byte[] role, byte[]? content, string label) =>
            new(Arr([content is null ? Obj(("role", role)) : Obj(("role", role), ("content", content))]), label);
        var text = _v.AnyText(_t.MaxModelLen);
        return _rng.Next(16) switch
        {
            0 => new(Raw("[]"), "[]"),
            1 => new(Arr([Null]), "[null]"),
            2 => Message(Str("robot"), Str("hi"), "role robot"),
            3 => Message(Str(""), Str("hi"), "empty role"),
            4 => Message(Int(1), Str("hi"), "role 1"),
            5 => Message(Str("user"), null, "no content"),
            6 => Message(Str("user"), Null, "content null"),
            7 => Message(Str("user"), Int(5), "content 5"),
            8 => Message(Str("user"), Raw("{}"), "content {}"),
            9 => Message(Str("user"), Arr([Obj(("type", Str("image_url")), ("image_url", Obj(("url", Str("http://127.0.0.1/x.png")))))]), "image part"),
            10 => Message(Str("user"), Arr([Obj(("type", Str("text")))]), "text part without text"),
            11 => Message(Str("user"), Arr([Obj(("type", Str("text")), ("text", Int(1)))]), "text part of a number"),
            12 => new(Arr(Enumerable.Range(0, _rng.Next(100, 300)).Select(i => Obj(("role", Str(i % 2 == 0 ? "user" : "assistant")), ("content", Str(_v.Sentence()))))), "hundreds of messages"),
            13 => new(Arr([Obj(("role", Str("assistant")), ("tool_calls", Arr([Obj(("id", Str("c1")), ("type", Str("function")))])))]), "tool call without function"),
            14 => Message(Str("user"), Arr([Obj(("type", Str("text")), ("text", text.Json))]), "text part: " + text.Label),
            _ => Message(Str("user"), text.Json, "content: " + text.Label),
        };
    }

    private readonly record struct Mutation(List<string> Notes, HashSet<string> Touched, string? Field, bool BodyBroken);

    /// <summary>Changes none, one or a few fields (or removes a required one, or adds an unknown one); now and then breaks the body itself.</summary>
    private Mutation Mutate(Fields f, Dictionary<string, Func<FuzzValue>> table, string[] required)
    {
        int roll = _rng.Next(100);
        int count = roll < 35 ? 0 : roll < 80 ? 1 : _rng.Next(2, 4);
        var notes = new List<string>();
        var touched = new HashSet<string>();
        bool breaks = false;
        // fields that carry text or shape the work come up more often
        var keys = table.Keys.SelectMany(k => Enumerable.Repeat(k, Weight(k))).ToArray();
        for (int i = 0; i < count; i++)
        {
            double r = _rng.NextDouble();
            string[] texts = [.. keys.Distinct().Where(k => k is "prompt" or "messages" or "text" or "stop" or "user" or "model" or "tokens")];
            if (r < 0.15 && texts.Length > 0)
            {
                // text that is not Unicode, where the field takes text
                string field = _v.Pick(texts);
                var bad = _v.InvalidText();
                var value = field switch
                {
                    "messages" => new FuzzValue(Arr([Obj(("role", Str("user")), ("content", Chance(0.7) ? bad.Json : Arr([Obj(("type", Str("text")), ("text", bad.Json))])))]), "content: " + bad.Label),
                    "stop" or "tokens" when Chance(0.5) => new FuzzValue(Arr([bad.Json]), "[" + bad.Label + "]"),
                    _ => bad,
                };
                Set(f, field, value.Json);
                notes.Add($"{field} = {value.Label}");
                touched.Add(field);
            }
            else if (r < 0.21 && required.Length > 0)
            {
                string field = _v.Pick(required);
                f.RemoveAll(kv => kv.Key == field);
                notes.Add($"removed {field}");
                touched.Add(field);
            }
            else if (r < 0.27)
            {
                string field = "x_fuzz_" + _rng.Next(1000).ToString(CultureInfo.InvariantCulture);
                f.Add(KeyValuePair.Create(field, _v.WrongType().Json));
                notes.Add($"unknown field {field}");
            }
            else
            {
                string field = _v.Pick(keys);
                var value = Chance(0.3) ? _v.WrongType() : table[field]();
                Set(f, field, value.Json);
                if (field == "top_logprobs")
                {
                    Set(f, "logprobs", True); // so the value itself is judged, not its missing companion
                }
                notes.Add($"{field} = {value.Label}");
                touched.Add(field);
                breaks |= value.BreaksJson;
            }
        }
        return new Mutation(notes, touched, touched.Count == 1 && !breaks ? touched.First() : null, breaks);
    }

    private static int Weight(string field) => field switch
    {
        "prompt" or "messages" or "text" => 5,
        "stop" or "n" or "max_tokens" or "max_completion_tokens" or "logprobs" or "top_logprobs" or "stream_options" or "tokens" => 2,
        _ => 1,
    };

    private FuzzRequest Finish(int group, string path, Fields f, Mutation mutation, int? expectedChoices, int? maxTokens = null, int? logprobs = null)
    {
        // what a 200 must respect, known while the fields that set it are as generated
        if (mutation.Touched.Overlaps(["max_tokens", "max_completion_tokens", "min_tokens"]))
        {
            maxTokens = null;
        }
        if (mutation.Touched.Overlaps(["logprobs", "top_logprobs"]))
        {
            logprobs = null;
        }
        var notes = mutation.Notes;
        var body = Obj(f);
        string? field = mutation.Field;
        string? contentType = "application/json";
        if (Chance(0.12))
        {
            (body, string what) = BreakBody(body);
            notes.Add(what);
            field = null;
            expectedChoices = null;
            maxTokens = null;
            logprobs = null;
        }
        if (Chance(0.06))
        {
            contentType = _v.Pick<string?>([null, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16", "multipart/form-data; boundary=x", "application/json; charset=\""]);
            notes.Add($"Content-Type {contentType ?? "(none)"}");
        }
        if (mutation.BodyBroken)
        {
            field = null;
        }
        bool stream = f.Any(kv => kv.Key == "stream" && kv.Value.AsSpan().SequenceEqual(True));
        return new FuzzRequest
        {
            Index = _index++,
            Group = group,
            Method = "POST",
            Path = path,
            Body = body,
            ContentType = contentType,
            Notes = notes,
            MutatedField = field,
            ExpectedChoices = mutation.Touched.Count == 0 || field is not null ? expectedChoices : null,
            MaxTokens = maxTokens,
            TopLogprobs = logprobs,
            Cancel = RandomCancel(body, stream),
        };
    }

    private (byte[] Body, string What) BreakBody(byte[] body)
    {
        int at = body.Length == 0 ? 0 : _rng.Next(body.Length);
        switch (_rng.Next(16))
        {
            case 0:
                return (body[..at], $"body cut at byte {at}");
            case 1:
                {
                    var b = (byte[])body.Clone();
                    if (b.Length > 0)
                    {
                        b[at] = (byte)_rng.Next(256);
                    }
                    return (b, $"byte {at} replaced");
                }
            case 2:
                return (Concat(body[..at], [(byte)_v.Pick([0xff, 0xc3, 0x80, 0xed, 0x00])], body[at..]), $"raw byte inserted at {at}");
            case 3:
                return (body.Length > 0 ? Concat(body[..at], body[(at + 1)..]) : body, $"byte {at} deleted");
            case 4:
                return (Concat(Raw("["), body, Raw("]")), "body wrapped in an array");
            case 5:
                {
                    string top = _v.Pick(["null", "42", "\"text\"", "[]", "true", "{", "}"]);
                    return (Raw(top), $"body is {top}");
                }
            case 6:
                return ([], "empty body");
            case 7:
                return (Raw("   \n  "), "whitespace body");
            case 8:
                return (Concat([0xef, 0xbb, 0xbf], body), "UTF-8 BOM first");
            case 9:
                return (Concat(body, Raw(_v.Pick(["}", "x", ",", "{}", "\u0000"]))), "trailing garbage");
            case 10:
                {
                    int depth = _rng.Next(60, 400);
                    var nested = Concat(Raw(new string('[', depth)), Raw(new string(']', depth)));
                    return (Concat(body[..^1], Raw(body.Length > 2 ? ", " : ""), Str("deep"), Raw(": "), nested, Raw("}")), $"a value nested {depth} deep");
                }
            case 11:
                return (Concat(Raw("/* comment */ "), body), "comment first");
            case 12:
                {
                    int keys = _rng.Next(1000, 5000);
                    var many = Obj(Enumerable.Range(0, keys).Select(i => KeyValuePair.Create("k" + i.ToString(CultureInfo.InvariantCulture), Int(i))));
                    return (Concat(body[..^1], Raw(body.Length > 2 ? ", " : ""), Str("many"), Raw(": "), many, Raw("}")), $"{keys} extra keys");
                }
            case 13:
                {
                    long size = _t.MaxRequestBodySize + _rng.Next(1, 64 << 10);
                    var pad = new byte[size];
                    pad.AsSpan().Fill((byte)'a');
                    return (Concat(body[..^1], Raw(body.Length > 2 ? ", " : ""), Str("pad"), Raw(": "), StrBytes(pad), Raw("}")), $"body of {size} bytes, past --max-request-body-size");
                }
            case 14:
                return (Encoding.Unicode.GetBytes(Encoding.UTF8.GetString(body)), "body in UTF-16");
            default:
                {
                    // the same key twice, the second of another type
                    var dup = Concat(body[..^1], Raw(body.Length > 2 ? ", " : ""), Str("max_tokens"), Raw(": "), _v.WrongType().Json, Raw("}"));
                    return (dup, "max_tokens given twice");
                }
        }
    }

    private CancelPlan RandomCancel(byte[]? body, bool stream, bool always = false)
    {
        if (!always && !Chance(0.14))
        {
            return CancelPlan.None;
        }
        int r = _rng.Next(10);
        if (r < 2 && body is { Length: > 1 })
        {
            return new CancelPlan(CancelKind.MidBody, _rng.Next(0, body.Length));
        }
        if (r < 6 && stream)
        {
            return new CancelPlan(CancelKind.AfterEvents, _rng.Next(0, 8));
        }
        return new CancelPlan(CancelKind.AfterMs, _rng.Next(0, 60));
    }

    private IEnumerable<byte[]> Ids(int count)
    {
        var ids = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            ids[i] = Int(_rng.Next(_t.VocabSize));
        }
        return ids;
    }

    private static void Set(Fields f, string key, byte[] value)
    {
        int i = f.FindIndex(kv => kv.Key == key);
        if (i >= 0)
        {
            f[i] = KeyValuePair.Create(key, value);
        }
        else
        {
            f.Add(KeyValuePair.Create(key, value));
        }
    }
}
