using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Sluice.Engine.Serving;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Fuzzing;

/// <summary>
/// Sends what a <see cref="RequestGenerator"/> makes to a running server, at most --concurrency at once (a burst
/// all at once, alone), each bounded by a timeout, and judges every answer (<see cref="FuzzFindings"/>). While it
/// runs it watches the engine's gauges: more running sequences than --max-num-seqs is a failure of its own,
/// reported with the requests then in flight.
/// </summary>
internal sealed class HttpFuzzer : IDisposable
{
    private const int MaxAnswerBytes = 16 << 20;

    private readonly TestServer _server;
    private readonly EngineOptions _engine;
    private readonly HttpClient _http;
    private readonly TimeSpan _requestTimeout;
    private readonly ConcurrentDictionary<int, FuzzRequest> _inFlight = new();
    private readonly StreamWriter? _journal;

    public HttpFuzzer(TestServer server, EngineOptions engine, FuzzFindings findings, TimeSpan requestTimeout, string? journal = null)
    {
        if (journal != null)
        {
            // a crash of the whole process leaves no report: the journal says what was in flight when it died
            _journal = new StreamWriter(journal, append: false) { AutoFlush = true };
            Console.Error.WriteLine($"fuzz journal (what was sent, for a crash): {journal}");
        }
        _server = server;
        _engine = engine;
        _requestTimeout = requestTimeout;
        Findings = findings;
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 512,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5),
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
        };
        _http = new HttpClient(handler) { BaseAddress = server.BaseUri, Timeout = Timeout.InfiniteTimeSpan, MaxResponseContentBufferSize = MaxAnswerBytes };
    }

    public FuzzFindings Findings { get; }

    /// <summary>Requests sent so far, and the most sequences the engine was seen running at once.</summary>
    public int Sent { get; private set; }

    public int MaxRunningSeen { get; private set; }

    public static FuzzTarget TargetOf(TestServer t, EngineOptions engine, ServerOptions options) =>
        new(t.Server.Host.Name, t.Engine.MaxModelLen, engine.MaxNumSeqs, options.MaxNumQueuedReqs, t.Server.Host.Model!.Tokenizer.VocabSize, options.MaxRequestBodySize);

    /// <summary>
    /// Sends groups until <paramref name="maxRequests"/> are out or <paramref name="budget"/> has passed, then waits
    /// for the last answers (each bounded by the request timeout). With <paramref name="only"/>, sends just those
    /// indices (and the rest of their groups are skipped), one group at a time.
    /// </summary>
    public async Task RunAsync(RequestGenerator generator, int maxRequests, TimeSpan budget, int concurrency, IReadOnlySet<int>? only = null)
    {
        var watch = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var monitor = Task.Run(() => MonitorAsync(stop.Token));
        using var slots = new SemaphoreSlim(concurrency);
        var running = new List<Task>();
        int generated = 0;
        try
        {
            while (generated < maxRequests && watch.Elapsed < budget)
            {
                var group = generator.Next();
                generated += group.Requests.Count;
                var requests = only is null ? group.Requests : [.. group.Requests.Where(r => only.Contains(r.Index))];
                if (only != null && group.Requests[0].Index > only.Max())
                {
                    break;
                }
                if (requests.Count == 0)
                {
                    continue;
                }
                Sent += requests.Count;
                if (group.Kind != "single" || only != null)
                {
                    if (group.Kind != "single")
                    {
                        // on stderr too: if the process dies, the test platform prints it with the crash
                        Console.Error.WriteLine($"fuzz seed {Findings.Seed}: sending {group.Kind} group {group.Id}, requests #{requests[0].Index}..#{requests[^1].Index}");
                    }
                    // a burst goes out all at once on a quiet server, so what happens is its own doing
                    await Task.WhenAll(running);
                    running.Clear();
                    await Task.WhenAll(requests.Select(RunOneAsync));
                    continue;
                }
                await slots.WaitAsync();
                running.Add(RunOneAsync(requests[0]).ContinueWith(_ => slots.Release(), TaskScheduler.Default));
                if (running.Count > 4 * concurrency)
                {
                    running.RemoveAll(t => t.IsCompleted);
                }
            }
            await Task.WhenAll(running);
        }
        finally
        {
            stop.Cancel();
            await monitor;
        }
    }

    /// <summary>Polls the engine's snapshot: running sequences past --max-num-seqs overflow the engine's per-step buffers.</summary>
    private async Task MonitorAsync(CancellationToken stop)
    {
        bool reported = false;
        while (!stop.IsCancellationRequested)
        {
            var s = _server.Engine.Stats;
            int seen = Math.Max(s.Running, s.LastStepSequences);
            MaxRunningSeen = Math.Max(MaxRunningSeen, seen);
            if (seen > _engine.MaxNumSeqs && !reported)
            {
                reported = true;
                var inFlight = _inFlight.Values.OrderBy(r => r.Index).ToList();
                Findings.Add(
                    $"engine ran {seen} sequences at once (running {s.Running}, last step {s.LastStepSequences}), past --max-num-seqs {_engine.MaxNumSeqs}: " +
                    "its per-step logits buffer holds max-num-seqs rows (the engine refuses such a step; before the fix the rows past them were written outside the buffer)",
                    $"in flight then ({inFlight.Count}):\n      " + string.Join("\n      ", inFlight.Take(12).Select(FuzzFindings.DescribeRequest)),
                    inFlight.Select(r => r.Index));
            }
            if (s.KvBlocksFree < 0 || s.KvBlocksFree > s.KvBlocksTotal)
            {
                Findings.Add($"engine reports {s.KvBlocksFree} free KV blocks of {s.KvBlocksTotal}", "");
            }
            try
            {
                await Task.Delay(2, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task RunOneAsync(FuzzRequest r)
    {
        _inFlight[r.Index] = r;
        Journal($"> {FuzzFindings.DescribeRequest(r)}");
        FuzzResult result;
        try
        {
            result = await SendAsync(r);
        }
        finally
        {
            _inFlight.TryRemove(r.Index, out _);
        }
        Journal($"< #{r.Index} {result.Outcome} {result.Status} {result.ErrorMessage}");
        Findings.Record(result);
    }

    private async Task<FuzzResult> SendAsync(FuzzRequest r)
    {
        long start = Stopwatch.GetTimestamp();
        double Elapsed() => Stopwatch.GetElapsedTime(start).TotalSeconds;
        using var ours = new CancellationTokenSource();
        using var deadline = new CancellationTokenSource(_requestTimeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ours.Token, deadline.Token);
        string id = FuzzFindings.RequestId(Findings.Seed, r);
        using var message = new HttpRequestMessage(new HttpMethod(r.Method), new Uri(r.Path, UriKind.Relative));
        message.Headers.TryAddWithoutValidation("X-Request-Id", id);
        if (r.Body is not null)
        {
            HttpContent content = r.Cancel.Kind == CancelKind.MidBody ? new StallingContent(r.Body, r.Cancel.Value, ours) : new ByteArrayContent(r.Body);
            if (r.ContentType is not null)
            {
                content.Headers.TryAddWithoutValidation("Content-Type", r.ContentType);
            }
            message.Content = content;
        }
        if (r.Cancel.Kind == CancelKind.AfterMs)
        {
            ours.CancelAfter(r.Cancel.Value);
        }
        string stage = "waiting for the status line";
        int status = 0;
        string? streamError = null;
        try
        {
            using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, linked.Token);
            status = (int)response.StatusCode;
            bool echoed = response.Headers.TryGetValues("X-Request-Id", out var ids) && ids.Contains(id);
            string? mediaType = response.Content.Headers.ContentType?.MediaType;
            if (mediaType == "text/event-stream")
            {
                stage = "reading the event stream";
                var read = await ReadStreamAsync(response, r, ours, linked.Token);
                streamError = read.Error;
                if (read.CancelledByUs)
                {
                    return new FuzzResult { Request = r, Outcome = FuzzOutcome.CancelledByUs, Status = status, Seconds = Elapsed(), StreamError = streamError };
                }
                return new FuzzResult { Request = r, Status = status, RequestIdEchoed = echoed, StreamError = read.Error, Problem = read.Problem, Seconds = Elapsed() };
            }
            if (r.Cancel.Kind == CancelKind.AfterEvents)
            {
                ours.Cancel();
                return new FuzzResult { Request = r, Outcome = FuzzOutcome.CancelledByUs, Status = status, Seconds = Elapsed() };
            }
            stage = "reading the body";
            byte[] body = await response.Content.ReadAsByteArrayAsync(linked.Token);
            return Judge(r, status, mediaType, body, echoed, Elapsed());
        }
        catch (Exception ex) when (deadline.IsCancellationRequested && !ours.IsCancellationRequested)
        {
            return new FuzzResult { Request = r, Outcome = FuzzOutcome.Hang, Status = status, Seconds = Elapsed(), Detail = $"{stage} after {_requestTimeout.TotalSeconds:F0} s; {ex.GetType().Name}" };
        }
        catch (Exception) when (ours.IsCancellationRequested)
        {
            return new FuzzResult { Request = r, Outcome = FuzzOutcome.CancelledByUs, Status = status, Seconds = Elapsed(), StreamError = streamError };
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            return new FuzzResult { Request = r, Outcome = FuzzOutcome.TransportError, Status = status, Seconds = Elapsed(), Detail = $"{stage}: {Flatten(ex)}" };
        }
    }

    private static string Flatten(Exception ex)
    {
        var parts = new List<string>();
        for (var e = ex; e != null; e = e.InnerException)
        {
            parts.Add($"{e.GetType().Name}: {e.Message}");
        }
        return string.Join(" <- ", parts);
    }

    private static FuzzResult Judge(FuzzRequest r, int status, string? mediaType, byte[] body, bool echoed, double seconds)
    {
        var result = new FuzzResult { Request = r, Status = status, RequestIdEchoed = echoed, Seconds = seconds };
        if (status >= 400)
        {
            try
            {
                using var doc = JsonDocument.Parse(body);
                var error = doc.RootElement.GetProperty("error");
                return result with
                {
                    ErrorMessage = error.GetProperty("message").GetString(),
                    ErrorType = error.TryGetProperty("type", out var t) ? t.ToString() : null,
                    ErrorParam = error.TryGetProperty("param", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null,
                    ErrorCode = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null,
                };
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                return result with { Problem = $"the error body is not OpenAI's error JSON ({mediaType ?? "no Content-Type"}): {FuzzJson.Preview(body, 160)}" };
            }
        }
        if (status != 200 || mediaType is null || !mediaType.Contains("json", StringComparison.Ordinal))
        {
            return result;
        }
        try
        {
            using var doc = JsonDocument.Parse(body);
            return result with { Problem = CheckAnswer(r, doc.RootElement) };
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return result with { Problem = $"a 200 whose body is not the JSON it should be: {ex.Message}" };
        }
    }

    /// <summary>What a whole 200 from a generation route must hold: its choices, finish reasons, usage within max_tokens, log-probabilities as asked.</summary>
    private static string? CheckAnswer(FuzzRequest r, JsonElement root)
    {
        if (!root.TryGetProperty("choices", out var choices))
        {
            return null;
        }
        var indices = choices.EnumerateArray().Select(c => c.GetProperty("index").GetInt32()).Order().ToArray();
        if (r.ExpectedChoices is { } expected && !indices.SequenceEqual(Enumerable.Range(0, expected)))
        {
            return $"choices {string.Join(",", indices)}, expected 0..{expected - 1}";
        }
        foreach (var c in choices.EnumerateArray())
        {
            string? finish = c.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
            if (finish is not ("stop" or "length"))
            {
                return $"choice {c.GetProperty("index").GetInt32()} finished with {finish ?? "null"}";
            }
            if (r.TopLogprobs is { } k && c.TryGetProperty("logprobs", out var lp))
            {
                if (LogprobsProblem(lp, k) is { } problem)
                {
                    return $"choice {c.GetProperty("index").GetInt32()}: {problem}";
                }
            }
        }
        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            int prompt = usage.GetProperty("prompt_tokens").GetInt32(), completion = usage.GetProperty("completion_tokens").GetInt32();
            if (usage.GetProperty("total_tokens").GetInt32() != prompt + completion)
            {
                return $"usage total {usage.GetProperty("total_tokens")} != prompt {prompt} + completion {completion}";
            }
            if (r.MaxTokens is { } max && completion > indices.Length * max)
            {
                return $"usage says {completion} completion tokens for {indices.Length} choices of at most {max}";
            }
        }
        return null;
    }

    /// <summary>Chat's content entries carry exactly k alternatives; completions' lists run in parallel with at most k + 1 per token.</summary>
    private static string? LogprobsProblem(JsonElement lp, int k)
    {
        if (lp.ValueKind != JsonValueKind.Object)
        {
            return $"logprobs asked for, got {lp.ValueKind}";
        }
        if (lp.TryGetProperty("content", out var content))
        {
            foreach (var entry in content.EnumerateArray())
            {
                int alternatives = entry.GetProperty("top_logprobs").GetArrayLength();
                double logprob = entry.GetProperty("logprob").GetDouble();
                if (alternatives != k || !(logprob <= 0))
                {
                    return $"a token with {alternatives} top_logprobs (asked {k}) and logprob {logprob}";
                }
            }
            return null;
        }
        int tokens = lp.GetProperty("tokens").GetArrayLength();
        if (lp.GetProperty("token_logprobs").GetArrayLength() != tokens || lp.GetProperty("text_offset").GetArrayLength() != tokens
            || lp.GetProperty("top_logprobs").GetArrayLength() != tokens)
        {
            return "logprobs lists of different lengths";
        }
        foreach (var top in lp.GetProperty("top_logprobs").EnumerateArray())
        {
            if (top.ValueKind == JsonValueKind.Object && top.EnumerateObject().Count() > k + 1)
            {
                return $"a token with {top.EnumerateObject().Count()} top_logprobs (asked {k})";
            }
        }
        return null;
    }

    private readonly record struct StreamRead(bool CancelledByUs, string? Error, string? Problem);

    /// <summary>Reads server-sent events as a strict client does; leaves after the planned number of events.</summary>
    private static async Task<StreamRead> ReadStreamAsync(HttpResponseMessage response, FuzzRequest r, CancellationTokenSource ours, CancellationToken ct)
    {
        using var stream = await response.Content.ReadAsStreamAsync(ct);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        int events = 0;
        bool done = false;
        string? error = null, problem = null;
        var finishes = new Dictionary<int, int>();
        var data = new StringBuilder();
        if (r.Cancel.Kind == CancelKind.AfterEvents && r.Cancel.Value == 0)
        {
            ours.Cancel();
            return new StreamRead(true, null, null);
        }
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data.Append(line, 6, line.Length - 6);
                continue;
            }
            if (line.Length > 0)
            {
                problem ??= $"a line that is not 'data: ...': {line[..Math.Min(line.Length, 80)]}";
                continue;
            }
            if (data.Length == 0)
            {
                continue;
            }
            string payload = data.ToString();
            data.Clear();
            events++;
            if (payload == "[DONE]")
            {
                problem ??= done ? "two [DONE] events" : null;
                done = true;
            }
            else if (done)
            {
                problem ??= "an event after [DONE]";
            }
            else
            {
                try
                {
                    using var doc = JsonDocument.Parse(payload);
                    var root = doc.RootElement;
                    if (root.TryGetProperty("error", out var e))
                    {
                        error ??= $"{(e.TryGetProperty("type", out var t) ? t.ToString() : "?")}: {(e.TryGetProperty("message", out var m) ? m.ToString() : e.ToString())}";
                    }
                    else if (root.TryGetProperty("choices", out var choices))
                    {
                        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                        {
                            int prompt = usage.GetProperty("prompt_tokens").GetInt32(), completion = usage.GetProperty("completion_tokens").GetInt32();
                            if (usage.GetProperty("total_tokens").GetInt32() != prompt + completion)
                            {
                                problem ??= $"usage total {usage.GetProperty("total_tokens")} != prompt {prompt} + completion {completion}";
                            }
                            if (r.MaxTokens is { } max && r.ExpectedChoices is { } n && completion > n * max)
                            {
                                problem ??= $"usage says {completion} completion tokens for {n} choices of at most {max}";
                            }
                        }
                        foreach (var c in choices.EnumerateArray())
                        {
                            int index = c.GetProperty("index").GetInt32();
                            if (c.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String)
                            {
                                finishes[index] = finishes.GetValueOrDefault(index) + 1;
                            }
                            if (r.ExpectedChoices is { } n && (index < 0 || index >= n))
                            {
                                problem ??= $"a chunk for choice {index} of {n}";
                            }
                        }
                    }
                }
                catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
                {
                    problem ??= $"an event that is not a chunk: {payload[..Math.Min(payload.Length, 120)]}";
                }
            }
            if (r.Cancel.Kind == CancelKind.AfterEvents && events >= r.Cancel.Value)
            {
                ours.Cancel();
                return new StreamRead(true, error, problem);
            }
        }
        if (!done)
        {
            problem ??= $"the stream ended without [DONE] after {events} events";
        }
        if (error is null && r.ExpectedChoices is { } expected && problem is null)
        {
            var missing = Enumerable.Range(0, expected).Where(i => finishes.GetValueOrDefault(i) != 1).ToList();
            if (missing.Count > 0)
            {
                problem = $"choices without exactly one finish_reason: {string.Join(",", missing.Take(8))} of {expected}";
            }
        }
        return new StreamRead(false, error, problem);
    }

    private void Journal(string line)
    {
        if (_journal != null)
        {
            lock (_journal)
            {
                _journal.WriteLine(line);
            }
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _journal?.Dispose();
    }

    /// <summary>Sends the first bytes of a body, then walks away: the server sees a body that ends early.</summary>
    private sealed class StallingContent(byte[] body, int sendBytes, CancellationTokenSource abort) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync(body.AsMemory(0, Math.Min(sendBytes, body.Length)), cancellationToken);
            await stream.FlushAsync(cancellationToken);
            await Task.Delay(10, CancellationToken.None);
            await abort.CancelAsync();
            throw new OperationCanceledException("the fuzzer walked away mid-body", abort.Token);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            return true;
        }
    }
}
