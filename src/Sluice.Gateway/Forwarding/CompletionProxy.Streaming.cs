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

    /// <summary>How a run of attempts ended.</summary>
    private enum RunEnd
    {
        /// <summary>Its part of the answer is complete (the whole stream: finished for the client too).</summary>
        Done,

        /// <summary>The client left or the gateway stopped (or, for a choice, a sibling choice failed the stream).</summary>
        Left,

        /// <summary>Nothing could serve it: the whole stream has been ended (an error answer or event); a choice says why.</summary>
        Failed,

        /// <summary>A stream of several choices was cut after it started: each unfinished choice continues on its own.</summary>
        Split,
    }

    /// <summary>The model a stream's attempts go to: a fallback's once the stream went there (only before it started).</summary>
    private sealed class StreamRoute(string model, TrafficSplit split)
    {
        public string Model { get; set; } = model;
        public TrafficSplit Split { get; set; } = split;
    }

    private async Task RelayAsync(HttpContext context, JsonObject body, string model, RoutingSnapshot snapshot, TrafficSplit split, Caching.CachePlan plan)
    {
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
        var usage = context.Features.Get<RequestUsage>()!;
        usage.Streamed = true;
        // a stream that ends without its usage (the client left, a cut nothing could continue) pays for what was delivered
        usage.CountDelivered = () => CountDeliveredAsync(s, usage);
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, drain.Aborted);
        var route = new StreamRoute(model, split);
        var tried = new HashSet<BackendState>();
        var (end, _, _) = await RunAttemptsAsync(context, s, null, route, snapshot, tried, aborted.Token);
        if (end == RunEnd.Split)
        {
            await ContinueChoicesAsync(context, s, route, snapshot, tried, aborted.Token);
        }
    }

    /// <summary>
    /// A cut stream of several choices (n > 1, a prompt array): every unfinished choice continues at once as its own
    /// <c>n: 1</c> request (its prompt, its seed, its tokens so far), each with its own retries, its chunks merged into
    /// the client's stream under its index. Finished choices are not asked again. When one choice cannot be continued,
    /// the others are stopped and the stream ends with the error event; when all finish, the usage of the whole answer
    /// (each prompt once, every token the client got) and [DONE].
    /// </summary>
    private async Task ContinueChoicesAsync(HttpContext context, StreamState s, StreamRoute route, RoutingSnapshot snapshot, HashSet<BackendState> tried,
        CancellationToken aborted)
    {
        if (!s.Continuable)
        {
            await FailStreamAsync(context, s, route.Model, "it cannot be continued (its prompt is neither text nor token ids)");
            return;
        }
        var open = s.Unfinished();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        // bounded: at most ContinuationConcurrency choices are continued at once, the others wait for a place
        using var places = new SemaphoreSlim(StreamState.ContinuationConcurrency);
        string? lost = null;
        Deployment? last = null;
        async Task RunChoiceAsync(ChoiceState choice)
        {
            RunEnd end;
            Deployment? deployment;
            string? why;
            try
            {
                await places.WaitAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
                return; // a sibling choice was lost (or the client left) before this one's turn
            }
            try
            {
                (end, deployment, why) = await RunAttemptsAsync(context, s, choice, route, snapshot, [.. tried], stop.Token);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested && !aborted.IsCancellationRequested)
            {
                return; // a sibling choice was lost: this one stopped mid-attempt
            }
            finally
            {
                places.Release();
            }
            if (end == RunEnd.Failed)
            {
                Interlocked.CompareExchange(ref lost, $"choice {choice.Index} ({why})", null);
                await stop.CancelAsync(); // one choice lost: the stream cannot be whole, the others stop
            }
            else if (end == RunEnd.Done)
            {
                last = deployment;
            }
        }
        await Task.WhenAll(open.Select(RunChoiceAsync));
        if (aborted.IsCancellationRequested)
        {
            return;
        }
        if (lost is not null || last is null)
        {
            await FailStreamAsync(context, s, route.Model, $"could not be continued: {lost ?? "no replica left"}");
            return;
        }
        var usage = context.Features.Get<RequestUsage>()!;
        (usage.Model, usage.Deployment) = (route.Model, last);
        int prompt = await PromptTokensAsync(s, last);
        await FinishStreamAsync(context, s, UsageOf(prompt, s.Tokens));
        metrics.Requests.Increment(route.Model, last.Config.Version, last.Backend.Id, "200");
        metrics.Duration.Observe(Time.GetElapsedTime(s.Arrival).TotalSeconds, route.Model, last.Config.Version, last.Backend.Id);
        LogChoicesContinued(log, s.RequestId, route.Model, open.Count);
    }

    /// <summary>
    /// Attempts, one replica at a time, until the answer (<paramref name="target"/> null: the whole stream; else one
    /// choice of a cut stream, continued as an n: 1 request) is complete or nothing can serve it: retries on the same
    /// replica (a 500 once, a 429 after a back-off, a restart after a refused prefill), failover to others, fallback models
    /// before the stream started. Returns how it ended, the deployment that completed it, and why it failed.
    /// </summary>
    private async Task<(RunEnd End, Deployment? By, string? Why)> RunAttemptsAsync(HttpContext context, StreamState s, ChoiceState? target, StreamRoute route,
        RoutingSnapshot snapshot, HashSet<BackendState> tried, CancellationToken aborted)
    {
        var config = snapshot.Config;
        var retriedSame = new HashSet<BackendState>();
        var rateLimited = new Dictionary<BackendState, int>();
        var fellBackFrom = new HashSet<string>(StringComparer.Ordinal) { route.Model };
        string? lastFailure = null;
        (WithheldAnswer Answer, Deployment From)? withheld = null;
        Deployment? again = null;
        int picks = 0, continuations = 0;
        var usage = context.Features.Get<RequestUsage>()!;
        while (true)
        {
            string model = route.Model;
            if (target is null && s.Started && !s.SingleChoice)
            {
                return (RunEnd.Split, null, null); // the choices continue each on its own
            }
            var choice = target ?? (s.SingleChoice ? s.Choice(0) : null);
            bool toolCall = choice?.ToolCall == true;
            if (toolCall)
            {
                // a tool call's arguments are continued from token ids (sluice serve) or not at all: no other kind is asked
                tried.UnionWith(snapshot.Models[model].Versions.Values.SelectMany(v => v.Deployments)
                    .Where(d => d.Config.Kind != BackendKind.Sluice).Select(d => d.Backend));
            }
            Deployment? deployment;
            if (again is not null && again.Backend.Breaker.TryAcquire(config.Breaker))
            {
                deployment = again;
            }
            else
            {
                deployment = picks < config.Retry.MaxAttempts + continuations ? router.Pick(snapshot, route.Split, model, tried, RequestShape.PoolOf(snapshot.Models[model].Config, s.Body),
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
                    (route.Model, route.Split, picks) = (next, router.SplitOf(next), 0);
                    tried.Clear();
                    continue;
                }
                if (!s.Started)
                {
                    await GiveUpAsync(context, model, s.RequestId, lastFailure, withheld);
                    return (RunEnd.Failed, null, null);
                }
                string why = deployment is not null ? "it cannot be continued (its prompt is neither text nor token ids)"
                    : toolCall ? "no replica could continue its tool call (only sluice serve does, from token ids)"
                    : "no replica left to continue it";
                if (target is null)
                {
                    await FailStreamAsync(context, s, model, why);
                }
                return (RunEnd.Failed, null, why);
            }
            var backend = deployment.Backend;
            tried.Add(backend);
            if (target is null)
            {
                (usage.Model, usage.Deployment) = (model, deployment);
            }
            bool exact = deployment.Config.Kind == BackendKind.Sluice && choice?.IdsComplete == true;
            if (exact && s.Started && backend.Continuation == ContinuationSupport.NotAsked)
            {
                backend.Continuation = await ContinuationSupportAsync(deployment, config, aborted);
            }
            var support = exact ? backend.Continuation : ContinuationSupport.None;
            bool ids = support is ContinuationSupport.Unknown or ContinuationSupport.TokenIds;
            var mode = !s.Started ? StreamMode.Fresh
                : ids && s.TokenExact ? StreamMode.Tokens
                : ids && s.ChatResumable ? StreamMode.ChatTokens
                : support == ContinuationSupport.PromptTokens && s.TokenExact ? StreamMode.PromptTokens
                : !s.Chat ? StreamMode.Text
                : deployment.Config.Prefill && !backend.RefusesPrefill ? StreamMode.Prefill
                : StreamMode.Restart;
            if (mode != StreamMode.Fresh)
            {
                s.Capture = null; // a continued answer is the client's, not the cache's
            }
            string? cannot = toolCall && mode != StreamMode.ChatTokens
                ? "its tool call cannot be continued (only from its token ids, by a sluice serve that takes continued_token_ids)"
                : mode == StreamMode.Text && s.IdPrompts && choice?.IdsComplete != true
                ? "its prompt is token ids and the tokens sent came without their ids (only ids can be appended to it)"
                : null;
            if (cannot is not null)
            {
                // this replica cannot continue it; another may (a sluice serve with the ids), else the stream ends
                backend.Succeeded(); // not the backend's fault; a half-open trial it was given ends
                if (HasOther(snapshot, model, tried))
                {
                    continue;
                }
                if (target is null)
                {
                    await FailStreamAsync(context, s, model, cannot);
                }
                return (RunEnd.Failed, null, cannot);
            }
            if (mode is StreamMode.PromptTokens or StreamMode.Text && choice!.TokenIds.Count > choice.Committed)
            {
                // tokens whose text the dead replica held back: generated again, with their text, by the continuation
                // (the client has their ids already: not sent twice)
                choice.ResentIds += choice.TokenIds.Count - choice.Committed;
                choice.TokenIds.RemoveRange(choice.Committed, choice.TokenIds.Count - choice.Committed);
                choice.Tokens = choice.Committed;
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
                result = await AttemptStreamAsync(context, s, mode == StreamMode.Fresh ? null : choice, deployment, mode, config, model, aborted);
            }
            finally
            {
                backend.Ended();
            }
            if (aborted.IsCancellationRequested)
            {
                backend.Succeeded(); // the client left (or the gateway stopped, or a sibling choice failed): not the backend's fault
                return (RunEnd.Left, null, null);
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
                if (target is null)
                {
                    metrics.Requests.Increment(model, version, backend.Id, "200");
                    metrics.Duration.Observe(Time.GetElapsedTime(s.Arrival).TotalSeconds, model, version, backend.Id);
                }
                return (RunEnd.Done, deployment, null);
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
                    if (mode is StreamMode.Tokens or StreamMode.ChatTokens or StreamMode.PromptTokens && RefusesContinuationField(answer.Body))
                    {
                        // a sluice serve older than the field (a mixed fleet during a rollout): remembered, and this stream
                        // goes on by the next way this backend allows (text, prefill or restart) instead of failing
                        backend.Continuation = ContinuationSupport.None;
                        LogContinuationRefused(log, s.RequestId, backend.Id, ModeName(mode));
                        again = deployment;
                        metrics.Retries.Increment(model, "continuation_refused");
                        continue;
                    }
                    if (!s.Started && ContextLength.Exceeded(answer.Body) && NextFallback(snapshot, model, m => m.ContextWindowFallbacks, fellBackFrom) is { } fallback)
                    {
                        metrics.AttemptEnded(model, version, backend.Id, "context_window", attemptSeconds);
                        LogContextFallback(log, s.RequestId, model, fallback);
                        metrics.Failovers.Increment(model, "context_window");
                        (route.Model, route.Split, picks) = (fallback, router.SplitOf(fallback), 0);
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
                        return (RunEnd.Failed, null, null);
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
                        await Task.Delay(Backoff.Delay(config.Retry.Backoff, n), Time, aborted);
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
                continuations++;
            }
            (again is not null ? metrics.Retries : metrics.Failovers).Increment(model, result.Reason);
        }
    }

    private static string ModeName(StreamMode mode) => mode switch
    {
        StreamMode.Tokens or StreamMode.ChatTokens or StreamMode.PromptTokens => "tokens",
        StreamMode.Text => "text",
        StreamMode.Prefill => "prefill",
        _ => "restart",
    };

    /// <summary>One attempt: the whole stream (<paramref name="choice"/> null, a fresh request) or one choice's continuation
    /// (a stream of one choice: the whole rest of it; of several: that choice alone, as an n: 1 request).</summary>
    private async Task<AttemptResult> AttemptStreamAsync(HttpContext context, StreamState s, ChoiceState? choice, Deployment deployment, StreamMode mode,
        GatewayConfig config, string model, CancellationToken cancellationToken)
    {
        var backend = deployment.Backend;
        var client = invoker.For(config.Timeouts);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        JsonObject request;
        string path;
        try
        {
            attempt.CancelAfter(config.Timeouts.Idle);
            (request, path) = await BuildStreamRequestAsync(s, choice, deployment, mode, client, attempt.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or JsonException or InvalidOperationException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new AttemptResult(Outcome.Failed, "tokenize", $"{backend.Id}: could not tokenize the prompt to continue the stream ({ex.Message})");
        }
        int remaining = s.MaxTokens is { } max && choice is not null ? max - choice.Tokens : int.MaxValue;
        if (mode is StreamMode.Tokens or StreamMode.PromptTokens or StreamMode.Text or StreamMode.Prefill && remaining <= 0)
        {
            if (s.SingleChoice)
            {
                await FinishStreamAsync(context, s, null);
            }
            else
            {
                // the choice had all its tokens, only its finish_reason was lost with the cut
                await SendAsync(context, s, ChoiceChunk(s, choice!.Index, "", "length"), cancellationToken);
                choice.Finish = "length";
            }
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
            return await ReadEventsAsync(context, s, choice, deployment, mode, config, model, response, sentAt, added, cancellationToken);
        }
    }

    /// <summary>
    /// Reads the backend's events one by one, each with its deadline, and passes them on (rewritten when it is a
    /// continuation). <paramref name="choice"/> is the choice a continuation continues (null: a fresh request, whose
    /// chunks say their choice); a continuation of one choice of several answers as choice 0, sent on under its index.
    /// </summary>
    private async Task<AttemptResult> ReadEventsAsync(HttpContext context, StreamState s, ChoiceState? choice, Deployment deployment, StreamMode mode,
        GatewayConfig config, string model, HttpResponseMessage response, long sentAt, double added, CancellationToken cancellationToken)
    {
        var backend = deployment.Backend;
        bool part = choice is not null && !s.SingleChoice; // one choice of several: its own end, no usage or [DONE] of its own
        var pending = new List<JsonObject>(); // events before the first token: nothing reaches the client until a token does
        string skip = mode == StreamMode.Restart ? choice!.Text.ToString() : "";
        int tokensBefore = mode == StreamMode.Restart ? 0 : choice?.Tokens ?? s.Tokens;
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
            if (s.Chat && mode is StreamMode.Tokens or StreamMode.PromptTokens)
            {
                chunk = ToChatChunk(chunk);
                choices = (JsonArray)chunk["choices"]!;
            }
            if (choices[0] is not JsonObject c)
            {
                continue;
            }
            // the choice this chunk adds to: the one continued, else the index the backend gave (a fresh request's)
            var state = choice ?? s.Choice(IntOf(c["index"]));
            if (state is null)
            {
                metrics.StreamFaults.Increment(model, "malformed");
                LogMalformed(log, s.RequestId, backend.Id, payload.Length > 80 ? payload[..80] : payload);
                continue;
            }
            if (part)
            {
                c["index"] = state.Index; // an n: 1 continuation answers as choice 0
            }
            string content = Content(s, c);
            var ids = c["token_ids"] as JsonArray;
            if (!s.ClientTokenIds)
            {
                c.Remove("token_ids");
            }
            else if (state.ResentIds > 0 && ids is { Count: > 0 })
            {
                int drop = Math.Min(state.ResentIds, ids.Count);
                state.ResentIds -= drop;
                c["token_ids"] = new JsonArray([.. ids.Skip(drop).Select(i => (JsonNode?)JsonValue.Create(i!.GetValue<int>()))]);
            }
            string? finish = c["finish_reason"] is JsonValue f && f.TryGetValue(out string? fr) ? fr : null;
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
                SetContent(s, c, content);
                skip = "";
                ids = null;
                state.IdsComplete = false;
            }
            if (s.Started)
            {
                if (s.Chat && content.Length == 0 && finish is null && c["delta"] is JsonObject delta && delta["role"] is not null)
                {
                    continue; // a continuation's opening role chunk: the client had it
                }
                chunk["id"] = s.StreamId;
                chunk["created"] = s.Created;
                chunk["model"] = s.AnsweredModel;
            }
            bool toolCall = s.Chat && c["delta"] is JsonObject d && d["tool_calls"] is not null;
            bool isToken = content.Length > 0 || (ids?.Count ?? 0) > 0 || toolCall;
            if (!s.Started && !isToken && finish is null)
            {
                pending.Add(chunk);
                continue;
            }
            await s.WriteLock.WaitAsync(cancellationToken);
            try
            {
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
                if (toolCall)
                {
                    state.ToolCall = true; // a tool call's arguments are not continued by text
                }
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
                    state.Text.Append(content);
                    if (ids is not null && ids.Count > 0)
                    {
                        state.TokenIds.AddRange(ids.Select(i => i!.GetValue<int>()));
                        state.Tokens += ids.Count;
                    }
                    else
                    {
                        state.IdsComplete = false;
                        state.Tokens++;
                    }
                    if (content.Length > 0)
                    {
                        state.Committed = state.TokenIds.Count;
                    }
                }
                if (finish is not null)
                {
                    state.Finish = finish;
                }
            }
            finally
            {
                s.WriteLock.Release();
            }
            if (finish is not null)
            {
                finished = choice is not null ? choice.Finish is not null : s.AllFinished;
                if (finished && usage is not null)
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
        if (!finished && mode == StreamMode.Fresh && !s.SingleChoice)
        {
            // a stream of several choices that ended with some unfinished: they continue each on its own
            metrics.StreamFaults.Increment(model, "cut");
            return new AttemptResult(Outcome.Failed, "cut", $"{backend.Id}: the stream ended before every choice did");
        }
        JsonObject? total = null;
        if (usage is not null)
        {
            int prompt = IntOf(usage["prompt_tokens"]), completion = IntOf(usage["completion_tokens"]);
            // a continuation's prompt holds the tokens sent before it: they are the answer's, not the prompt's
            total = UsageOf(mode is StreamMode.Fresh or StreamMode.Restart ? prompt : Math.Max(0, prompt - tokensBefore), completion + tokensBefore);
        }
        if (part && choice is not null)
        {
            if (total is not null)
            {
                // this choice's share: its prompt (once per prompt) and its tokens as the backend counted them
                s.PromptTokens[choice.Prompt] ??= IntOf(total["prompt_tokens"]);
                choice.Tokens = IntOf(total["completion_tokens"]);
            }
            choice.Finish ??= "stop";
            return new AttemptResult(Outcome.Done, "", "");
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

    /// <summary>Writes one chunk while no other choice's continuation writes.</summary>
    private static async Task SendAsync(HttpContext context, StreamState s, JsonObject chunk, CancellationToken cancellationToken)
    {
        await s.WriteLock.WaitAsync(cancellationToken);
        try
        {
            await WriteEventAsync(context, chunk, cancellationToken);
        }
        finally
        {
            s.WriteLock.Release();
        }
    }

    /// <summary>A chunk of the client's stream for one choice: its text (or delta content) and finish_reason.</summary>
    private static JsonObject ChoiceChunk(StreamState s, int index, string text, string? finish)
    {
        var choice = s.Chat
            ? new JsonObject { ["index"] = index, ["delta"] = text.Length > 0 ? new JsonObject { ["content"] = text } : new JsonObject(), ["logprobs"] = null, ["finish_reason"] = finish }
            : new JsonObject { ["index"] = index, ["text"] = text, ["logprobs"] = null, ["finish_reason"] = finish };
        return new JsonObject { ["id"] = s.StreamId, ["object"] = s.Object, ["created"] = s.Created, ["model"] = s.AnsweredModel, ["choices"] = new JsonArray(choice) };
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
        if (s.Capture is { } capture && reported && usage is not null
            && context.Features.Get<RequestUsage>() is { } answered && answered.Model == s.RequestedModel)
        {
            // before the last bytes: the next identical request finds it
            await cache.StoreStreamAsync(s.CachePlan, capture, usage, answered.Deployment?.Config.Price ?? default);
        }
        if (s.ClientUsage)
        {
            usage ??= UsageOf(s.PromptIds.Sum(p => p?.Length ?? 0), s.Tokens);
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
        usage.PromptTokens = await PromptTokensAsync(s, usage.Deployment);
    }

    /// <summary>
    /// The request's prompt tokens, each prompt once (as sluice serve counts a prompt array): as a continuation's usage
    /// gave them, else the replica's /tokenize (sluice serve), else estimated.
    /// </summary>
    private async Task<int> PromptTokensAsync(StreamState s, Deployment? deployment)
    {
        int total = 0;
        for (int p = 0; p < s.Prompts; p++)
        {
            if (s.PromptTokens[p] is { } known)
            {
                total += known;
                continue;
            }
            if (s.PromptIds[p] is null && deployment is { Config.Kind: BackendKind.Sluice } && (s.Chat || s.Continuable))
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    s.PromptIds[p] = await TokenizeAsync(s, p, deployment, invoker.For(router.Snapshot.Config.Timeouts), timeout.Token);
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException or JsonException or InvalidOperationException or OperationCanceledException)
                {
                    LogTokenizeFailed(log, s.RequestId, deployment.Backend.Id, ex.Message);
                }
            }
            total += s.PromptIds[p]?.Length ?? Math.Max(1, s.EstimatedPromptTokens(p));
        }
        return total;
    }

    /// <summary>
    /// The request an attempt sends, by mode, and the path it goes to. A continuation continues <paramref name="choice"/>:
    /// an n: 1 request with its prompt, its seed (sluice serve samples choice i of a prompt with seed + i) and what it
    /// has sent so far; for a stream of one choice that is the whole request's continuation.
    /// </summary>
    private static async Task<(JsonObject Request, string Path)> BuildStreamRequestAsync(StreamState s, ChoiceState? choice, Deployment deployment, StreamMode mode,
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
        if (mode == StreamMode.Fresh || choice is null)
        {
            return (body, path);
        }
        int generated = choice.Tokens;
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
        // one choice: n 1, its own prompt and seed
        if (body.ContainsKey("n"))
        {
            body["n"] = 1;
        }
        if (s.SeedOf(choice) is { } seed)
        {
            body["seed"] = seed;
        }
        if (!s.Chat)
        {
            body["prompt"] = s.PromptNode(choice.Prompt);
        }
        switch (mode)
        {
            case StreamMode.Tokens:
            case StreamMode.PromptTokens:
                {
                    var promptIds = s.PromptIds[choice.Prompt] ??= await TokenizeAsync(s, choice.Prompt, deployment, client, cancellationToken);
                    var ids = new JsonArray();
                    // Tokens: the prompt, and every id so far as continued_token_ids; PromptTokens: the ids whose text the
                    // client has appended to the prompt (the others were dropped: generated again)
                    foreach (int id in mode == StreamMode.Tokens ? promptIds : promptIds.Concat(choice.TokenIds))
                    {
                        ids.Add(id);
                    }
                    var tokens = new JsonObject { ["model"] = deployment.Config.BackendModel, ["prompt"] = ids, ["stream"] = true, ["stream_options"] = new JsonObject { ["include_usage"] = true }, ["return_token_ids"] = true };
                    foreach (var field in new[] { "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "min_p", "seed", "stop", "stop_token_ids", "ignore_eos",
                    "presence_penalty", "frequency_penalty", "repetition_penalty", "logit_bias", "include_stop_str_in_output", "priority", "user", "min_tokens" })
                    {
                        if (body[field] is { } value)
                        {
                            tokens[field == "max_completion_tokens" ? "max_tokens" : field] = value.DeepClone();
                        }
                    }
                    if (mode == StreamMode.Tokens)
                    {
                        // the server's sampler, detokenizer and stop strings resume after these: text it held back (half a
                        // character, a possible start of a stop string) comes with the next token, a stop across the cut stops
                        tokens["continued_token_ids"] = new JsonArray([.. choice.TokenIds.Select(id => (JsonNode?)JsonValue.Create(id))]);
                    }
                    else if (body["seed"] is not null && choice.TokenIds.Count > 0)
                    {
                        // the seeded sampler resumes where the cut replica's was: one draw per token already generated
                        tokens["continued_tokens"] = choice.TokenIds.Count;
                    }
                    Shorten(tokens);
                    return (tokens, "v1/completions");
                }
            case StreamMode.ChatTokens:
                {
                    // the ids the client has, all of them: the server's detokenizer and parser resume after them, so text
                    // it held back (half a character, a call's unfinished arguments) comes with the next token
                    body["continued_token_ids"] = new JsonArray([.. choice.TokenIds.Select(id => (JsonNode?)JsonValue.Create(id))]);
                    body["continued_choice"] = choice.Index;
                    body["stream"] = true;
                    Shorten(body);
                    return (body, path);
                }
            case StreamMode.Text:
                // token ids can only be followed by ids: the prompt's and those whose text the client has
                body["prompt"] = s.IdPrompts
                    ? new JsonArray([.. s.PromptIds[choice.Prompt]!.Concat(choice.TokenIds).Select(id => (JsonNode?)JsonValue.Create(id))])
                    : s.PromptText(choice.Prompt) + choice.Text;
                Shorten(body);
                return (body, path);
            case StreamMode.Prefill:
                var messages = (JsonArray)body["messages"]!;
                messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = choice.Text.ToString() });
                body["continue_final_message"] = true;
                body["add_generation_prompt"] = false;
                Shorten(body);
                return (body, path);
            default:
                return (body, path);
        }
    }

    /// <summary>The token ids of prompt <paramref name="prompt"/> as the sluice serve replica renders it (POST /tokenize: the prompt, or the messages with the generation prompt).</summary>
    private static async Task<int[]> TokenizeAsync(StreamState s, int prompt, Deployment deployment, HttpMessageInvoker client, CancellationToken cancellationToken)
    {
        if (s.IdPrompts)
        {
            return s.PromptIds[prompt]!; // the client's ids are the prompt
        }
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
            request["prompt"] = s.PromptText(prompt);
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

    /// <summary>Whether another replica of the model not tried yet could take the stream.</summary>
    private static bool HasOther(RoutingSnapshot snapshot, string model, HashSet<BackendState> tried) =>
        snapshot.Models[model].Versions.Values.SelectMany(v => v.Deployments).Any(d => !tried.Contains(d.Backend));

    /// <summary>
    /// What a sluice serve takes to continue a stream, from its GET /version (<c>continuation</c>: the fields it takes):
    /// continued_token_ids listed, <see cref="ContinuationSupport.TokenIds"/>; a version without the list (an older
    /// server, which would ignore the field rather than refuse it), <see cref="ContinuationSupport.PromptTokens"/>; no
    /// answer, <see cref="ContinuationSupport.Unknown"/> (tried; a 400 naming the field says otherwise).
    /// </summary>
    private async Task<ContinuationSupport> ContinuationSupportAsync(Deployment deployment, GatewayConfig config, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(config.Timeouts.Idle);
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Get, new Uri(deployment.Config.Url, "version"));
            if (deployment.Config.ApiKey is { } key)
            {
                message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }
            using var response = await invoker.For(config.Timeouts).SendAsync(message, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                return ContinuationSupport.Unknown;
            }
            var version = JsonNode.Parse(await response.Content.ReadAsStringAsync(timeout.Token)) as JsonObject;
            return version?["continuation"] is JsonArray fields
                ? fields.Any(f => f is JsonValue v && v.TryGetValue(out string? name) && name == "continued_token_ids") ? ContinuationSupport.TokenIds : ContinuationSupport.PromptTokens
                : ContinuationSupport.PromptTokens;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or JsonException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return ContinuationSupport.Unknown;
        }
    }

    /// <summary>A 400 that refuses a continuation field as unknown (an older server with strict fields): its param or message names it.</summary>
    private static bool RefusesContinuationField(ReadOnlyMemory<byte> body)
    {
        string text = Encoding.UTF8.GetString(body.Span);
        if (!text.Contains("continued_token_ids", StringComparison.Ordinal) && !text.Contains("continued_tokens", StringComparison.Ordinal))
        {
            return false;
        }
        string? message = null, param = null;
        try
        {
            if (JsonNode.Parse(text)?["error"] is JsonObject error)
            {
                (message, param) = (error["message"]?.ToString(), error["param"]?.ToString());
            }
        }
        catch (JsonException)
        {
        }
        message ??= text;
        bool named = param is "continued_token_ids" or "continued_tokens" || message.Contains("continued_token", StringComparison.Ordinal);
        return named && new[] { "unknown", "unrecognized", "not permitted", "not supported", "extra", "not allowed" }
            .Any(w => message.Contains(w, StringComparison.OrdinalIgnoreCase));
    }

    [LoggerMessage(EventId = 107, Level = LogLevel.Warning, Message = "Request {RequestId}: {Backend} refused a continuation in mode {Mode} (a sluice serve older than the field): continued another way, and remembered")]
    private static partial void LogContinuationRefused(ILogger log, string requestId, string backend, string mode);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "Request {RequestId}: could not tokenize its prompt on {Backend} to bill it; estimated instead: {Failure}")]
    private static partial void LogTokenizeFailed(ILogger log, string requestId, string backend, string failure);

    [LoggerMessage(EventId = 106, Level = LogLevel.Information, Message = "Request {RequestId} for {Model}: the cut stream's {Choices} unfinished choices were continued each on its own")]
    private static partial void LogChoicesContinued(ILogger log, string requestId, string model, int choices);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Request {RequestId}: skipped a malformed chunk from {Backend}: {Chunk}")]
    private static partial void LogMalformed(ILogger log, string requestId, string backend, string chunk);
}
