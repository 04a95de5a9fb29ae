using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Sluice.Gateway.Configuration;
using Sluice.Gateway.Health;
using Sluice.Gateway.Management;
using Sluice.Gateway.Routing;
using Sluice.Gateway.Tenancy.Spend;

namespace Sluice.Gateway.Forwarding;

/// <summary>
/// Streams (<c>"stream": true</c>): the gateway reads the backend's server-sent events itself, event by event, so it can
/// see what a byte copy cannot: a first token that does not come (timeouts.first_token), a stall (timeouts.stream_idle),
/// a cut connection, a malformed chunk (skipped), an error event, a stream that ends without [DONE] (finished at once,
/// with usage). A failure before the first token goes to another replica as a fresh request; after it, the stream is
/// continued on another replica (<see cref="StreamMode"/>) and the client sees one unbroken stream with one id and the
/// usage of the whole answer; when nothing can continue it, it ends with an error event, never a [DONE].
/// </summary>
internal sealed partial class CompletionProxy
{
    private enum Outcome
    {
        Done,
        Refused,
        Failed,
    }

    private readonly record struct AttemptResult(Outcome Kind, string Reason, string Failure, WithheldAnswer? Answer = null);

    private async Task RelayAsync(HttpContext context, JsonObject body, string model, RoutingSnapshot snapshot, TrafficSplit split, Caching.CachePlan plan)
    {
        var config = snapshot.Config;
        var s = new StreamState(body, context.Request.Path.Value?.EndsWith("/chat/completions", StringComparison.Ordinal) == true,
            Sluice.Hosting.Requests.RequestInfo.Id(context), Sluice.Hosting.Requests.RequestInfo.Start(context))
        {
            CachePlan = plan,
            RequestedModel = model,
        };
        if (plan.Store && cache.Settings is { } cacheSettings)
        {
            s.Capture = new Caching.StreamCapture(s.Chat, cacheSettings.MaxEntrySize);
        }
        var tried = new HashSet<BackendState>();
        var retriedSame = new HashSet<BackendState>();
        var rateLimited = new Dictionary<BackendState, int>();
        var fellBackFrom = new HashSet<string>(StringComparer.Ordinal) { model };
        string? lastFailure = null;
        (WithheldAnswer Answer, Deployment From)? withheld = null;
        Deployment? again = null;
        int picks = 0;
        var usage = context.Features.Get<RequestUsage>()!;
        usage.Streamed = true;
        // a stream that ends without its usage (the client left, a cut nothing could continue) pays for what was delivered
        usage.CountDelivered = () => CountDeliveredAsync(s, usage);
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, drain.Aborted);
        while (true)
        {
            Deployment? deployment;
            if (again is not null && again.Backend.Breaker.TryAcquire(config.Breaker))
            {
                deployment = again;
            }
            else
            {
                deployment = picks < config.Retry.MaxAttempts + s.Continuations ? router.Pick(snapshot, split, model, tried, RequestShape.PoolOf(snapshot.Models[model].Config, s.Body),
                    config.Routing.PrefixAffinity is { } affinity ? RequestShape.Prefix(s.Body, affinity.PrefixChars) : null) : null;
                picks++;
            }
            again = null;
            if (deployment is null || (s.Started && !s.Continuable))
            {
                if (deployment is null && !s.Started && NextFallback(snapshot, model, m => m.Fallbacks, fellBackFrom) is { } next)
                {
                    LogFallback(log, s.RequestId, model, next);
                    metrics.Failovers.Increment(model, "fallback");
                    (model, split, picks) = (next, router.SplitOf(next), 0);
                    tried.Clear();
                    continue;
                }
                if (!s.Started)
                {
                    await GiveUpAsync(context, model, s.RequestId, lastFailure, withheld);
                    return;
                }
                await FailStreamAsync(context, s, model, deployment is null ? "no replica left to continue it" : "it cannot be continued (several choices or prompts)");
                return;
            }
            var backend = deployment.Backend;
            tried.Add(backend);
            (usage.Model, usage.Deployment) = (model, deployment);
            var mode = !s.Started ? StreamMode.Fresh
                : deployment.Config.Kind == BackendKind.Sluice && s.IdsComplete && s.TokenExact ? StreamMode.Tokens
                : !s.Chat ? StreamMode.Text
                : deployment.Config.Prefill && !backend.RefusesPrefill ? StreamMode.Prefill
                : StreamMode.Restart;
            if (mode == StreamMode.Tokens && s.TokenIds.Count > s.Committed)
            {
                // tokens whose text the dead replica held back: generated again, with their text, by the continuation
                // (the client has their ids already: not sent twice)
                s.ResentIds += s.TokenIds.Count - s.Committed;
                s.TokenIds.RemoveRange(s.Committed, s.TokenIds.Count - s.Committed);
                s.Tokens = s.Committed;
            }
            if (mode != StreamMode.Fresh)
            {
                s.Capture = null; // a continued answer is the client's, not the cache's
            }
            long attemptStart = Time.GetTimestamp();
            backend.Started();
            AttemptResult result;
            try
            {
                result = await AttemptStreamAsync(context, s, deployment, mode, config, model, aborted.Token);
            }
            finally
            {
                backend.Ended();
            }
            if (aborted.IsCancellationRequested)
            {
                backend.Succeeded(); // the client left (or the gateway stopped): not the backend's fault
                return;
            }
            string version = deployment.Config.Version;
            double attemptSeconds = Time.GetElapsedTime(attemptStart).TotalSeconds;
            if (result.Kind == Outcome.Done)
            {
                backend.Succeeded();
                metrics.AttemptEnded(model, version, backend.Id, null, attemptSeconds);
                if (mode != StreamMode.Fresh)
                {
                    metrics.Continuations.Increment(model, ModeName(mode), "ok");
                }
                metrics.Requests.Increment(model, version, backend.Id, "200");
                metrics.Duration.Observe(Time.GetElapsedTime(s.Arrival).TotalSeconds, model, version, backend.Id);
                return;
            }
            lastFailure = result.Failure;
            if (result.Answer is not { } passedOn || AttemptTransformer.Retryable(passedOn.Status) || s.Started)
            {
                // every attempt that does not give the client its answer (a 4xx passed on as it is does)
                metrics.AttemptEnded(model, version, backend.Id, result.Reason, attemptSeconds);
            }
            LogAttemptFailed(log, s.RequestId, model, backend.Id, picks, result.Failure);
            if (mode != StreamMode.Fresh)
            {
                metrics.Continuations.Increment(model, ModeName(mode), "failed");
            }
            if (result.Answer is { } answer)
            {
                if (answer.Status == StatusCodes.Status400BadRequest)
                {
                    backend.Succeeded();
                    if (mode == StreamMode.Prefill)
                    {
                        // fault 14: this backend does not continue an assistant message: never asked again; it restarts instead
                        backend.RefusesPrefill = true;
                        again = deployment;
                        metrics.Retries.Increment(model, "prefill_rejected");
                        continue;
                    }
                    if (!s.Started && ContextLength.Exceeded(answer.Body) && NextFallback(snapshot, model, m => m.ContextWindowFallbacks, fellBackFrom) is { } fallback)
                    {
                        metrics.AttemptEnded(model, version, backend.Id, "context_window", attemptSeconds);
                        LogContextFallback(log, s.RequestId, model, fallback);
                        metrics.Failovers.Increment(model, "context_window");
                        (model, split, picks) = (fallback, router.SplitOf(fallback), 0);
                        tried.Clear();
                        continue;
                    }
                }
                if (!AttemptTransformer.Retryable(answer.Status))
                {
                    if (!s.Started)
                    {
                        // a 4xx is the answer (a content policy, a bad field): passed on as the backend gave it
                        metrics.AttemptEnded(model, version, backend.Id, null, attemptSeconds);
                        metrics.Requests.Increment(model, version, backend.Id, answer.Status.ToString(CultureInfo.InvariantCulture));
                        AttemptTransformer.Stamp(context.Response, deployment, s.RequestId, 0);
                        await answer.WriteAsync(context.Response, context.RequestAborted);
                        return;
                    }
                    metrics.Failovers.Increment(model, result.Reason);
                    continue; // a continuation refused: another replica may take it
                }
                withheld = s.Started ? null : (answer, deployment);
                if (answer.Status == StatusCodes.Status429TooManyRequests)
                {
                    backend.CoolDown(answer.RetryAfter ?? config.Breaker.OpenFor, result.Failure);
                    int n = rateLimited.GetValueOrDefault(backend);
                    if (answer.RetryAfter is null && n < config.Retry.RateLimitedRetries)
                    {
                        rateLimited[backend] = n + 1;
                        await Task.Delay(Backoff.Delay(config.Retry.Backoff, n), Time, aborted.Token);
                        again = deployment;
                    }
                }
                else
                {
                    backend.Failed(result.Failure, config.Breaker);
                }
                if (answer.Status == StatusCodes.Status500InternalServerError && retriedSame.Add(backend))
                {
                    again = deployment;
                }
            }
            else
            {
                backend.Failed(result.Failure, config.Breaker);
            }
            if (s.Started)
            {
                s.FirstCut ??= result.Failure;
                s.Continuations++;
            }
            (again is not null ? metrics.Retries : metrics.Failovers).Increment(model, result.Reason);
        }
    }

    private static string ModeName(StreamMode mode) => mode switch
    {
        StreamMode.Tokens => "tokens",
        StreamMode.Text => "text",
        StreamMode.Prefill => "prefill",
        _ => "restart",
    };

    private async Task<AttemptResult> AttemptStreamAsync(HttpContext context, StreamState s, Deployment deployment, StreamMode mode, GatewayConfig config,
        string model, CancellationToken cancellationToken)
    {
        var backend = deployment.Backend;
        var client = invoker.For(config.Timeouts);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        JsonObject request;
        string path;
        try
        {
            attempt.CancelAfter(config.Timeouts.Idle);
            (request, path) = await BuildStreamRequestAsync(s, deployment, mode, client, attempt.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or JsonException or InvalidOperationException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new AttemptResult(Outcome.Failed, "tokenize", $"{backend.Id}: could not tokenize the prompt to continue the stream ({ex.Message})");
        }
        int remaining = s.MaxTokens is { } max ? max - s.Tokens : int.MaxValue;
        if (mode is StreamMode.Tokens or StreamMode.Text or StreamMode.Prefill && remaining <= 0)
        {
            await FinishStreamAsync(context, s, null);
            return new AttemptResult(Outcome.Done, "", "");
        }
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(deployment.Config.Url, path.TrimStart('/')))
        {
            Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(request, JsonContext.Default.JsonObject)),
        };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        message.Headers.TryAddWithoutValidation(Sluice.Hosting.Requests.RequestInfo.Header, s.RequestId);
        if (deployment.Config.ApiKey is { } key)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        long sentAt = Time.GetTimestamp();
        HttpResponseMessage response;
        try
        {
            attempt.CancelAfter(config.Timeouts.Idle);
            response = await client.SendAsync(message, attempt.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new AttemptResult(Outcome.Failed, "timeout", $"{backend.Id}: no response headers within {config.Timeouts.Idle.TotalSeconds:0.###} s");
        }
        catch (HttpRequestException ex)
        {
            return new AttemptResult(Outcome.Failed, "connect", $"{backend.Id}: {ex.Message}");
        }
        using (response)
        {
            int status = (int)response.StatusCode;
            if (status is < 200 or >= 300)
            {
                WithheldAnswer answer;
                try
                {
                    answer = await WithheldAnswer.ReadAsync(response, AttemptTransformer.WithheldBodyLimit, attempt.Token);
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    return new AttemptResult(Outcome.Failed, "transport", $"{backend.Id}: answered {status}, then the connection failed");
                }
                return new AttemptResult(Outcome.Refused, $"status_{status}", $"{backend.Id} answered {status}", answer);
            }
            long headersAt = Time.GetTimestamp();
            double added = Math.Max(0, (Time.GetElapsedTime(s.Arrival, headersAt) - Time.GetElapsedTime(sentAt, headersAt)).TotalSeconds);
            return await ReadEventsAsync(context, s, deployment, mode, config, model, response, sentAt, added, cancellationToken);
        }
    }

    /// <summary>Reads the backend's events one by one, each with its deadline, and passes them on (rewritten when it is a continuation).</summary>
    private async Task<AttemptResult> ReadEventsAsync(HttpContext context, StreamState s, Deployment deployment, StreamMode mode, GatewayConfig config,
        string model, HttpResponseMessage response, long sentAt, double added, CancellationToken cancellationToken)
    {
        var backend = deployment.Backend;
        var pending = new List<JsonObject>(); // events before the first token: nothing reaches the client until a token does
        string skip = mode == StreamMode.Restart ? s.Text.ToString() : "";
        int tokensBefore = mode == StreamMode.Restart ? 0 : s.Tokens;
        bool tokenSeen = false, finished = false;
        JsonObject? usage = null;
        using var read = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8);
        var data = new StringBuilder();
        while (true)
        {
            TimeSpan limit = finished ? TimeSpan.FromTicks(Math.Min(config.Timeouts.StreamIdle.Ticks, TimeSpan.FromSeconds(1).Ticks))
                : tokenSeen ? config.Timeouts.StreamIdle
                : config.Timeouts.FirstToken is { } first ? first - Time.GetElapsedTime(sentAt)
                : config.Timeouts.Idle;
            if (!read.TryReset())
            {
                return new AttemptResult(Outcome.Failed, "timeout", $"{backend.Id}: timed out");
            }
            read.CancelAfter(limit < TimeSpan.Zero ? TimeSpan.Zero : limit);
            string? line;
            try
            {
                line = await reader.ReadLineAsync(read.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                if (finished)
                {
                    break; // every choice finished, the backend just did not close the stream or send [DONE]: done now
                }
                string kind = tokenSeen ? "stall" : config.Timeouts.FirstToken is not null ? "first_token" : "stall";
                metrics.StreamFaults.Increment(model, kind);
                return new AttemptResult(Outcome.Failed, kind, kind == "first_token"
                    ? $"{backend.Id}: no first token within {config.Timeouts.FirstToken!.Value.TotalSeconds:0.###} s"
                    : $"{backend.Id}: the stream stalled (nothing for {limit.TotalSeconds:0.###} s)");
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                if (finished)
                {
                    break;
                }
                metrics.StreamFaults.Increment(model, "cut");
                return new AttemptResult(Outcome.Failed, "cut", $"{backend.Id}: the stream was cut ({ex.Message})");
            }
            if (line is null)
            {
                if (finished)
                {
                    metrics.StreamFaults.Increment(model, "no_done");
                    break; // fault 11: ended without [DONE]: finished here, with usage
                }
                metrics.StreamFaults.Increment(model, "cut");
                return new AttemptResult(Outcome.Failed, "cut", $"{backend.Id}: the stream ended before its answer did");
            }
            if (line.Length > 0)
            {
                if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    data.Append(data.Length > 0 ? "\n" : "").Append(line.AsSpan(line.StartsWith("data: ", StringComparison.Ordinal) ? 6 : 5));
                }
                continue; // comments, event: and id: lines carry nothing the gateway passes on
            }
            if (data.Length == 0)
            {
                continue;
            }
            string payload = data.ToString();
            data.Clear();
            if (payload == "[DONE]")
            {
                break;
            }
            JsonObject? chunk;
            try
            {
                chunk = JsonNode.Parse(payload) as JsonObject;
            }
            catch (JsonException)
            {
                chunk = null;
            }
            if (chunk is null)
            {
                // fault 10: a malformed chunk is skipped: nothing of it reaches the client
                metrics.StreamFaults.Increment(model, "malformed");
                LogMalformed(log, s.RequestId, backend.Id, payload.Length > 80 ? payload[..80] : payload);
                continue;
            }
            if (chunk["error"] is JsonObject error)
            {
                metrics.StreamFaults.Increment(model, "error_event");
                return new AttemptResult(Outcome.Failed, "error_event", $"{backend.Id} sent an error event: {error["message"]?.ToString() ?? error.ToJsonString()}");
            }
            if (chunk["usage"] is JsonObject u)
            {
                usage = u;
                chunk.Remove("usage");
            }
            if (chunk["choices"] is not JsonArray choices || choices.Count == 0)
            {
                if (usage is not null && finished)
                {
                    break; // the usage after the last choice: the answer is complete
                }
                continue;
            }
            if (s.Chat && mode == StreamMode.Tokens)
            {
                chunk = ToChatChunk(chunk);
                choices = (JsonArray)chunk["choices"]!;
            }
            var choice = choices[0] as JsonObject;
            string content = Content(s, choice);
            var ids = choice?["token_ids"] as JsonArray;
            if (!s.ClientTokenIds)
            {
                choice?.Remove("token_ids");
            }
            else if (s.ResentIds > 0 && ids is { Count: > 0 } && choice is not null)
            {
                int drop = Math.Min(s.ResentIds, ids.Count);
                s.ResentIds -= drop;
                choice["token_ids"] = new JsonArray([.. ids.Skip(drop).Select(i => (JsonNode?)JsonValue.Create(i!.GetValue<int>()))]);
            }
            if (s.Chat && choice?["delta"] is JsonObject d && d["tool_calls"] is not null)
            {
                s.Continuable = false; // a tool call's arguments are not continued by text
            }
            string? finish = choice?["finish_reason"] is JsonValue f && f.TryGetValue(out string? fr) ? fr : null;
            if (skip.Length > 0)
            {
                // a restart: the text the client has must come again first, else the answers diverged
                if (skip.StartsWith(content, StringComparison.Ordinal) && finish is null)
                {
                    skip = skip[content.Length..];
                    continue;
                }
                if (!content.StartsWith(skip, StringComparison.Ordinal))
                {
                    return new AttemptResult(Outcome.Failed, "restart_diverged", $"{backend.Id}: the restarted answer differs from the text already sent");
                }
                content = content[skip.Length..];
                SetContent(s, choice!, content);
                skip = "";
                ids = null;
                s.IdsComplete = false;
            }
            if (s.Started)
            {
                if (s.Chat && content.Length == 0 && finish is null && choice?["delta"] is JsonObject delta && delta["role"] is not null)
                {
                    continue; // a continuation's opening role chunk: the client had it
                }
                chunk["id"] = s.StreamId;
                chunk["created"] = s.Created;
                chunk["model"] = s.AnsweredModel;
            }
            bool isToken = content.Length > 0 || (ids?.Count ?? 0) > 0;
            if (!s.Started && !isToken && finish is null)
            {
                pending.Add(chunk);
                continue;
            }
            if (!s.Started)
            {
                StartStream(context, s, model, deployment, chunk, added);
                foreach (var held in pending)
                {
                    s.Capture?.Add(held);
                    await WriteEventAsync(context, held, cancellationToken);
                }
            }
            s.Capture?.Add(chunk);
            await WriteEventAsync(context, chunk, cancellationToken);
            if (isToken)
            {
                long now = Time.GetTimestamp();
                if (!tokenSeen && s.Tokens == 0)
                {
                    metrics.ObserveTtft(Time.GetElapsedTime(s.Arrival, now).TotalSeconds, model, deployment.Config.Version, backend.Id);
                }
                else if (s.LastTokenAt != 0)
                {
                    metrics.ObserveItl(Time.GetElapsedTime(s.LastTokenAt, now).TotalSeconds, model, deployment.Config.Version, backend.Id);
                }
                s.LastTokenAt = now;
                tokenSeen = true;
                s.Text.Append(content);
                if (ids is not null && ids.Count > 0)
                {
                    s.TokenIds.AddRange(ids.Select(i => i!.GetValue<int>()));
                    s.Tokens += ids.Count;
                }
                else
                {
                    s.IdsComplete = false;
                    s.Tokens++;
                }
                if (content.Length > 0)
                {
                    s.Committed = s.TokenIds.Count;
                }
            }
            if (finish is not null)
            {
                finished = true;
                if (usage is not null)
                {
                    break;
                }
            }
        }
        if (!s.Started)
        {
            if (pending.Count == 0 && !finished)
            {
                metrics.StreamFaults.Increment(model, "cut");
                return new AttemptResult(Outcome.Failed, "cut", $"{backend.Id}: the stream ended without an answer");
            }
            StartStream(context, s, model, deployment, pending.FirstOrDefault() ?? [], added);
            foreach (var held in pending)
            {
                s.Capture?.Add(held);
                await WriteEventAsync(context, held, cancellationToken);
            }
        }
        if (!finished && mode != StreamMode.Fresh && usage is null)
        {
            metrics.StreamFaults.Increment(model, "cut");
            return new AttemptResult(Outcome.Failed, "cut", $"{backend.Id}: the continuation ended before its answer did");
        }
        JsonObject? total = null;
        if (usage is not null)
        {
            int prompt = IntOf(usage["prompt_tokens"]), completion = IntOf(usage["completion_tokens"]);
            // a continuation's prompt holds the tokens sent before it: they are the answer's, not the prompt's
            total = UsageOf(mode is StreamMode.Fresh or StreamMode.Restart ? prompt : Math.Max(0, prompt - tokensBefore), completion + tokensBefore);
        }
        await FinishStreamAsync(context, s, total);
        return new AttemptResult(Outcome.Done, "", "");
    }

    private static JsonObject UsageOf(int prompt, int completion) =>
        new() { ["prompt_tokens"] = prompt, ["completion_tokens"] = completion, ["total_tokens"] = prompt + completion };

    private static int IntOf(JsonNode? node) => node is JsonValue v && v.TryGetValue(out int i) ? i : 0;

    /// <summary>The text a chunk adds: a chat delta's content or a completion choice's text.</summary>
    private static string Content(StreamState s, JsonObject? choice) =>
        (s.Chat ? choice?["delta"]?["content"] : choice?["text"]) is JsonValue v && v.TryGetValue(out string? text) ? text ?? "" : "";

    private static void SetContent(StreamState s, JsonObject choice, string content)
    {
        if (s.Chat)
        {
            ((JsonObject)choice["delta"]!)["content"] = content;
        }
        else
        {
            choice["text"] = content;
        }
    }

    /// <summary>A completion chunk (a token-level continuation of a chat stream) as the chat chunk the client expects.</summary>
    private static JsonObject ToChatChunk(JsonObject chunk)
    {
        var choices = new JsonArray();
        foreach (var c in (JsonArray)chunk["choices"]!)
        {
            if (c is not JsonObject choice)
            {
                continue;
            }
            var delta = new JsonObject();
            if (choice["text"] is JsonValue t && t.TryGetValue(out string? text) && text.Length > 0)
            {
                delta["content"] = text;
            }
            var converted = new JsonObject { ["index"] = choice["index"]?.DeepClone(), ["delta"] = delta, ["logprobs"] = null, ["finish_reason"] = choice["finish_reason"]?.DeepClone() };
            if (choice["token_ids"] is JsonArray ids)
            {
                converted["token_ids"] = ids.DeepClone();
            }
            choices.Add(converted);
        }
        return new JsonObject { ["id"] = chunk["id"]?.DeepClone(), ["object"] = "chat.completion.chunk", ["created"] = chunk["created"]?.DeepClone(), ["model"] = chunk["model"]?.DeepClone(), ["choices"] = choices };
    }

    private void StartStream(HttpContext context, StreamState s, string model, Deployment deployment, JsonObject first, double added)
    {
        s.Started = true;
        s.First = deployment;
        s.StreamId = first["id"]?.ToString() ?? $"cmpl-{s.RequestId}";
        s.Created = first["created"] is JsonValue c && c.TryGetValue(out long created) ? created : Time.GetUtcNow().ToUnixTimeSeconds();
        s.AnsweredModel = first["model"]?.ToString() ?? deployment.Config.BackendModel;
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        AttemptTransformer.Stamp(response, deployment, s.RequestId, added);
        metrics.Added.Observe(added, model, deployment.Config.Version, deployment.Backend.Id);
    }

    /// <summary>Text as the backend wrote it: only what JSON requires is escaped (as sluice serve and OpenAI write it).</summary>
    private static readonly JsonWriterOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static async Task WriteEventAsync(HttpContext context, JsonObject chunk, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        buffer.Write("data: "u8);
        using (var writer = new Utf8JsonWriter(buffer, Relaxed))
        {
            chunk.WriteTo(writer);
        }
        buffer.Write("\n\n"u8);
        var body = context.Response.Body;
        await body.WriteAsync(buffer.WrittenMemory, cancellationToken);
        await body.FlushAsync(cancellationToken);
    }

    /// <summary>The end of a complete answer: the usage (when the client asked for it) and [DONE].</summary>
    private async Task FinishStreamAsync(HttpContext context, StreamState s, JsonObject? usage)
    {
        bool reported = usage is not null; // the backend's usage: a stream is stored only with it
        if (Metered(context) && context.Features.Get<RequestUsage>() is { } record)
        {
            // the row commits before the usage chunk and [DONE]: a stream the client saw finish has its row
            if (usage is not null)
            {
                (record.PromptTokens, record.CompletionTokens) = (IntOf(usage["prompt_tokens"]), IntOf(usage["completion_tokens"]));
            }
            else
            {
                await CountDeliveredAsync(s, record);
                usage = UsageOf((int)record.PromptTokens, (int)record.CompletionTokens);
            }
            record.Status = StatusCodes.Status200OK;
            try
            {
                await UsageKnownAsync(context, record);
            }
            catch (Sluice.Hosting.Errors.ApiException e)
            {
                // fail_mode closed and the row could not commit: the stream does not finish (no usage, no [DONE])
                var error = new JsonObject { ["error"] = new JsonObject { ["message"] = e.Message, ["type"] = e.Type, ["param"] = null, ["code"] = e.Code } };
                await WriteEventAsync(context, error, context.RequestAborted);
                return;
            }
        }
        if (s.Capture is { } capture && reported && usage is not null && s.Continuations == 0
            && context.Features.Get<RequestUsage>() is { } answered && answered.Model == s.RequestedModel)
        {
            // before the last bytes: the next identical request finds it
            await cache.StoreStreamAsync(s.CachePlan, capture, usage, answered.Deployment?.Config.Price ?? default);
        }
        if (s.ClientUsage)
        {
            usage ??= UsageOf(s.PromptIds?.Length ?? 0, s.Tokens);
            var chunk = new JsonObject { ["id"] = s.StreamId, ["object"] = s.Object, ["created"] = s.Created, ["model"] = s.AnsweredModel, ["choices"] = new JsonArray(), ["usage"] = usage };
            await WriteEventAsync(context, chunk, context.RequestAborted);
        }
        await context.Response.Body.WriteAsync("data: [DONE]\n\n"u8.ToArray(), context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    /// <summary>A stream that started and cannot be finished: an error event with the failure that cut it, and no [DONE].</summary>
    private async Task FailStreamAsync(HttpContext context, StreamState s, string model, string why)
    {
        if (context.Features.Get<RequestUsage>() is { } usage)
        {
            usage.Status = StatusCodes.Status502BadGateway; // what its error event says; it pays for what was delivered
        }
        metrics.Errors.Increment(model, "stream_interrupted");
        var error = new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["message"] = $"The stream was interrupted and {why}: {s.FirstCut ?? "the backend failed"}",
                ["type"] = "server_error",
                ["param"] = null,
                ["code"] = "stream_interrupted",
            },
        };
        await WriteEventAsync(context, error, context.RequestAborted);
    }

    /// <summary>
    /// A stream's tokens when no usage came: the completion tokens the client was sent (token ids from sluice serve,
    /// else one per chunk) and the prompt's tokens (the replica's /tokenize for sluice serve, else estimated).
    /// </summary>
    private async Task CountDeliveredAsync(StreamState s, RequestUsage usage)
    {
        usage.Counted = true;
        usage.CompletionTokens = s.Tokens;
        if (s.PromptIds is null && usage.Deployment is { Config.Kind: BackendKind.Sluice } deployment)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                s.PromptIds = await TokenizeAsync(s, deployment, invoker.For(router.Snapshot.Config.Timeouts), timeout.Token);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or JsonException or InvalidOperationException or OperationCanceledException)
            {
                LogTokenizeFailed(log, s.RequestId, deployment.Backend.Id, ex.Message);
            }
        }
        usage.PromptTokens = s.PromptIds?.Length ?? Math.Max(1, RequestShape.PromptTokens(s.Body));
    }

    /// <summary>The request an attempt sends, by mode, and the path it goes to.</summary>
    private static async Task<(JsonObject Request, string Path)> BuildStreamRequestAsync(StreamState s, Deployment deployment, StreamMode mode,
        HttpMessageInvoker client, CancellationToken cancellationToken)
    {
        string path = s.Chat ? "v1/chat/completions" : "v1/completions";
        var body = (JsonObject)s.Body.DeepClone();
        body["model"] = deployment.Config.BackendModel;
        body["stream_options"] = new JsonObject { ["include_usage"] = true };
        if (deployment.Config.Kind == BackendKind.Sluice)
        {
            body["return_token_ids"] = true;
        }
        int generated = s.Tokens;
        void Shorten(JsonObject b)
        {
            foreach (var field in new[] { "max_tokens", "max_completion_tokens" })
            {
                if (b[field] is JsonValue v && v.TryGetValue(out int max))
                {
                    b[field] = Math.Max(1, max - generated);
                }
            }
            if (b["min_tokens"] is JsonValue m && m.TryGetValue(out int min))
            {
                b["min_tokens"] = Math.Max(0, min - generated);
            }
        }
        switch (mode)
        {
            case StreamMode.Tokens:
                {
                    s.PromptIds ??= await TokenizeAsync(s, deployment, client, cancellationToken);
                    var ids = new JsonArray();
                    foreach (int id in s.PromptIds.Concat(s.TokenIds))
                    {
                        ids.Add(id);
                    }
                    var tokens = new JsonObject { ["model"] = deployment.Config.BackendModel, ["prompt"] = ids, ["stream"] = true, ["stream_options"] = new JsonObject { ["include_usage"] = true }, ["return_token_ids"] = true };
                    foreach (var field in new[] { "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "min_p", "seed", "stop", "stop_token_ids", "ignore_eos",
                    "presence_penalty", "frequency_penalty", "repetition_penalty", "logit_bias", "include_stop_str_in_output", "priority", "user", "min_tokens" })
                    {
                        if (s.Body[field] is { } value)
                        {
                            tokens[field == "max_completion_tokens" ? "max_tokens" : field] = value.DeepClone();
                        }
                    }
                    if (s.Body["seed"] is not null && s.TokenIds.Count > 0)
                    {
                        // the seeded sampler resumes where the cut replica's was: one draw per token already generated
                        tokens["continued_tokens"] = s.TokenIds.Count;
                    }
                    Shorten(tokens);
                    return (tokens, "v1/completions");
                }
            case StreamMode.Text:
                body["prompt"] = s.Body["prompt"]!.GetValue<string>() + s.Text;
                Shorten(body);
                return (body, path);
            case StreamMode.Prefill:
                var messages = (JsonArray)body["messages"]!;
                messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = s.Text.ToString() });
                body["continue_final_message"] = true;
                body["add_generation_prompt"] = false;
                Shorten(body);
                return (body, path);
            default:
                return (body, path);
        }
    }

    /// <summary>The prompt's token ids as the sluice serve replica renders it (POST /tokenize: the prompt, or the messages with the generation prompt).</summary>
    private static async Task<int[]> TokenizeAsync(StreamState s, Deployment deployment, HttpMessageInvoker client, CancellationToken cancellationToken)
    {
        var request = new JsonObject { ["model"] = deployment.Config.BackendModel };
        if (s.Chat)
        {
            request["messages"] = s.Body["messages"]!.DeepClone();
            if (s.Body["add_generation_prompt"] is { } add)
            {
                request["add_generation_prompt"] = add.DeepClone();
            }
        }
        else
        {
            request["prompt"] = s.Body["prompt"]!.DeepClone();
            if (s.Body["add_special_tokens"] is { } special)
            {
                request["add_special_tokens"] = special.DeepClone();
            }
        }
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(deployment.Config.Url, "tokenize"))
        {
            Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(request, JsonContext.Default.JsonObject)),
        };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        message.Headers.TryAddWithoutValidation(Sluice.Hosting.Requests.RequestInfo.Header, s.RequestId);
        if (deployment.Config.ApiKey is { } key)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        using var response = await client.SendAsync(message, cancellationToken);
        response.EnsureSuccessStatusCode();
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken)) as JsonObject;
        return answer?["tokens"] is JsonArray tokens ? [.. tokens.Select(t => t!.GetValue<int>())]
            : throw new InvalidOperationException("/tokenize answered without 'tokens'");
    }

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "Request {RequestId}: could not tokenize its prompt on {Backend} to bill it; estimated instead: {Failure}")]
    private static partial void LogTokenizeFailed(ILogger log, string requestId, string backend, string failure);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Request {RequestId}: skipped a malformed chunk from {Backend}: {Chunk}")]
    private static partial void LogMalformed(ILogger log, string requestId, string backend, string chunk);
}
