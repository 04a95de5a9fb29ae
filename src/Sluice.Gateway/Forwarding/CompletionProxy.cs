using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sluice.Gateway.Caching;
using Sluice.Gateway.Configuration;
using Sluice.Gateway.Health;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Routing;
using Sluice.Gateway.Tenancy.Limits;
using Sluice.Gateway.Tenancy.Spend;
using Sluice.Hosting;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Requests;
using Yarp.ReverseProxy.Forwarder;

namespace Sluice.Gateway.Forwarding;

/// <summary>
/// POST /v1/completions and /v1/chat/completions: reads the body once (bounded), finds the public model, and forwards
/// through YARP's <see cref="IHttpForwarder"/> to a replica picked by the router, the backend's model name in the body.
/// Connection errors and retryable answers (429, 5xx) before anything reached the client go to another replica, up to
/// retry.max_attempts; the answer (an SSE stream too) is then copied as it arrives, flushed chunk by chunk. With a
/// response cache, a deterministic request that passed the key, model and budget checks may be answered by
/// <see cref="ResponseCache"/> instead, and a complete answer of a miss is stored before its last bytes go out.
/// </summary>
internal sealed partial class CompletionProxy(IHttpForwarder forwarder, BackendInvoker invoker, Router router, GatewayMetrics metrics,
    GatewayDrain drain, UsageRecorder recorder, BudgetGuard budgets, ResponseCache cache, SluiceHostingOptions hosting, ILogger<CompletionProxy> log)
{
    private TimeProvider Time => hosting.Time;

    public async Task HandleAsync(HttpContext context)
    {
        if (drain.Draining)
        {
            throw ApiException.Unavailable("The gateway is shutting down; send the request again to another instance.", AdmissionRejection.Draining);
        }
        drain.Enter();
        var usage = recorder.Begin(context, RequestInfo.Id(context));
        try
        {
            await ForwardAsync(context);
        }
        catch (ApiException e)
        {
            usage.Status = e.Status;
            throw;
        }
        finally
        {
            // exactly one usage row per request: here for what did not record itself before its last bytes (errors, cancellations)
            if (Metered(context) && !usage.Recorded)
            {
                usage.Cancelled = context.RequestAborted.IsCancellationRequested || drain.Aborted.IsCancellationRequested;
                usage.Status = usage.Cancelled ? 499 : usage.Status != 0 ? usage.Status : context.Response.StatusCode;
                if (usage.CountDelivered is { } count && context.Response.HasStarted)
                {
                    await count();
                }
                await UsageKnownAsync(context, usage, final: true);
            }
            if (usage.Reservation is { } reservation)
            {
                await reservation.SettleAsync(usage.BilledPico, usage.BilledTokens); // after the row: the key's spend never lacks both
            }
            drain.Exit();
        }
    }

    private async Task ForwardAsync(HttpContext context)
    {
        var body = await RequestBody.ReadAsync(context.Request, hosting.MaxRequestBodySize, context.RequestAborted);
        string model = body.Model;
        Tenancy.Auth.KeyAuthentication.RequireModel(context, model);
        var usage = context.Features.Get<RequestUsage>()!;
        usage.Model = model;
        var snapshot = router.Snapshot;
        if (!snapshot.Models.ContainsKey(model) || !router.Splits.TryGetValue(model, out var split))
        {
            throw ApiException.ModelNotFound(model);
        }
        recorder.ThrowIfUnavailable();
        bool chat = context.Request.Path.Value?.EndsWith("/chat/completions", StringComparison.Ordinal) == true;
        // the tree only when the cache needs it: a cache configured, or cache controls to check (and the field to remove)
        var plan = cache.Enabled || body.HasCacheField || context.Request.Headers.CacheControl.Count > 0
            ? cache.Plan(chat ? "chat" : "completions", body.Json, context.Request.Headers) : default;
        if (body.HasCacheField)
        {
            body.TreeChanged(); // the plan took the cache controls out: backends get the tree from here on
        }
        if (context.Features.Get<Tenancy.VirtualKey>() is { } key)
        {
            // the worst case: the prompt (estimated) and max_tokens at the model's highest price
            var prices = snapshot.Models[model].Config.Deployments.Select(d => d.Price ?? default).ToList();
            var worst = new Price(prices.Max(p => p.InputPico), prices.Max(p => p.OutputPico));
            long maxTokens = Usage.Long(body.Json["max_completion_tokens"]) ?? Usage.Long(body.Json["max_tokens"]) ?? BudgetGuard.DefaultMaxTokens;
            long promptTokens = BudgetGuard.WorstPromptTokens(body.Json);
            // the tokens-per-minute and budget reservations go out together, and are awaited with the key's limits check
            // (sent before the body was read): with Redis, one round trip for the three
            var tokens = key.TokensPerMinute is not null && context.RequestServices.GetService<ITokenLimiter>() is { } tpm
                ? TenancyReservations.Start(() => tpm.ReserveAsync(key, promptTokens + maxTokens, promptTokens, context.RequestAborted)) : null;
            var budget = budgets.ReserveAsync(key, promptTokens, maxTokens, worst, context.RequestAborted);
            await TenancyReservations.AwaitAsync(context, usage, context.Features.Get<PendingAdmission>(), tokens, budget, metrics); // each settled when the request ends (HandleAsync)
            if (context.Features.Get<Tenancy.Teams.Team>() is not null)
            {
                // the key's team: its tokens-per-minute, then its budget joined to the key's reservation (a refusal here
                // leaves the key's reservations to be given back when the request ends, as any refusal after them)
                await Tenancy.Teams.TeamLimits.ReserveTokensAsync(context, promptTokens, maxTokens);
                usage.Reservation = await context.RequestServices.GetRequiredService<Tenancy.Teams.TeamBudgetGuard>()
                    .ReserveAsync(context, usage.Reservation, promptTokens, maxTokens, worst, context.RequestAborted);
            }
        }
        if (cache.Enabled && await cache.TryAnswerAsync(context, plan, model, body.Stream,
            body.Json["stream_options"] is JsonObject o && o["include_usage"] is JsonValue u && u.TryGetValue(out bool include) && include))
        {
            return;
        }
        if (body.Stream)
        {
            await RelayAsync(context, body.Json, model, snapshot, split, plan);
            return;
        }
        string requested = model;
        var config = snapshot.Config;
        var tried = new HashSet<BackendState>();
        // made when first needed: most requests succeed at once and never read them
        HashSet<BackendState>? retriedSame = null;
        Dictionary<BackendState, int>? rateLimited = null;
        HashSet<string>? fellBackFrom = null;
        string id = RequestInfo.Id(context);
        long arrival = RequestInfo.Start(context);
        string? lastFailure = null;
        (WithheldAnswer Answer, Deployment From)? withheld = null;
        Deployment? again = null;
        int picks = 0;
        while (true)
        {
            Deployment? deployment;
            if (again is not null && again.Backend.Breaker.TryAcquire(config.Breaker))
            {
                deployment = again;
            }
            else
            {
                var modelConfig = snapshot.Models[model].Config;
                // the tree is built only for a rule that reads it: request-shape pools, prefix affinity
                deployment = picks < config.Retry.MaxAttempts ? router.Pick(snapshot, split, model, tried, modelConfig.Pools.Count == 0 ? null : RequestShape.PoolOf(modelConfig, body.Json),
                    config.Routing.PrefixAffinity is { } affinity ? RequestShape.Prefix(body.Json, affinity.PrefixChars) : null) : null;
                picks++;
            }
            again = null;
            if (deployment is null)
            {
                if (NextFallback(snapshot, model, m => m.Fallbacks, fellBackFrom ??= new(StringComparer.Ordinal) { model }) is { } next)
                {
                    // every replica failed before answering: the model's fallbacks, in order (LiteLLM's fallbacks)
                    LogFallback(log, id, model, next);
                    metrics.Failovers.Increment(model, "fallback");
                    (model, split, picks) = (next, router.SplitOf(next), 0);
                    tried.Clear();
                    continue;
                }
                await GiveUpAsync(context, model, id, lastFailure, withheld);
                return;
            }
            var backend = deployment.Backend;
            tried.Add(backend);
            // the last chance passes any answer on as it is; before it, a retryable answer is held back
            bool last = (picks >= config.Retry.MaxAttempts || (retriedSame?.Contains(backend) == true && !router.AnyAvailable(snapshot, split, model, tried)))
                && (rateLimited?.GetValueOrDefault(backend) ?? 0) >= config.Retry.RateLimitedRetries;
            bool contextFallbacks = snapshot.Models[model].Config.ContextWindowFallbacks.Count > 0;
            var transformer = new AttemptTransformer(deployment, id, last, arrival, Time) { WithholdBadRequest = contextFallbacks };
            (usage.Model, usage.Deployment) = (model, deployment);
            var forBackend = body.ForBackend(deployment.Config.BackendModel);
            context.Request.Body = new MemoryStream(forBackend.Array!, forBackend.Offset, forBackend.Count, writable: false);
            context.Request.ContentLength = forBackend.Count;
            context.Response.StatusCode = StatusCodes.Status200OK;
            long attemptStart = Time.GetTimestamp();
            backend.Started();
            ForwarderError error;
            // with spend on (or a tpm reservation to settle), the answer is held until its usage is final: the client never has a complete answer without its row
            var clientBody = context.Response.Body;
            using var held = Metered(context) || plan.Store ? new MemoryStream() : null;
            try
            {
                if (held is not null)
                {
                    context.Response.Body = held;
                }
                error = await forwarder.SendAsync(context, deployment.Destination,
                    invoker.For(config.Timeouts), RequestConfigFor(config.Timeouts), transformer,
                    drain.Aborted); // the forwarder links it with the client's RequestAborted itself
            }
            finally
            {
                context.Response.Body = clientBody;
                backend.Ended();
            }
            string version = deployment.Config.Version;
            if (held is not null && (held.Length > 0 || (error == ForwarderError.None && transformer.Withheld is null)))
            {
                if (error == ForwarderError.None)
                {
                    usage.Status = transformer.Status;
                    Usage.FromAnswer(usage, body, held, transformer.Status);
                    await UsageKnownAsync(context, usage);
                    if (plan.Store && transformer.Status == StatusCodes.Status200OK && model == requested && !context.Response.Headers.ContainsKey("Content-Encoding"))
                    {
                        await cache.StoreAsync(plan, held.ToArray(), chat, usage.PromptTokens, usage.CompletionTokens, deployment.Config.Price ?? default);
                    }
                }
                try
                {
                    await clientBody.WriteAsync(held.GetBuffer().AsMemory(0, (int)held.Length), context.RequestAborted);
                }
                catch (Exception e) when (e is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
                {
                    return; // the client left as the answer went out: it was generated and is billed in full
                }
            }
            if (error == ForwarderError.None && transformer.Withheld is null)
            {
                if (transformer.Status >= 500)
                {
                    backend.Failed($"status {transformer.Status}", config.Breaker);
                }
                else if (transformer.Status != StatusCodes.Status429TooManyRequests)
                {
                    backend.Succeeded();
                }
                metrics.AttemptEnded(model, version, backend.Id, transformer.Status >= 500 ? GatewayMetrics.StatusReason(transformer.Status) : null, Time.GetElapsedTime(attemptStart).TotalSeconds);
                metrics.Requests.Increment(model, version, backend.Id, GatewayMetrics.StatusLabel(transformer.Status));
                metrics.Added.Observe(transformer.AddedSeconds, model, version, backend.Id);
                metrics.Duration.Observe(Time.GetElapsedTime(arrival).TotalSeconds, model, version, backend.Id);
                return;
            }
            if (context.RequestAborted.IsCancellationRequested)
            {
                backend.Succeeded(); // the client left: not the backend's fault
                return;
            }
            string reason;
            if (transformer.Withheld is { Status: StatusCodes.Status400BadRequest } badRequest)
            {
                backend.Succeeded();
                metrics.AttemptEnded(model, version, backend.Id, ContextLength.Exceeded(badRequest.Body) ? "context_window" : null, Time.GetElapsedTime(attemptStart).TotalSeconds);
                if (ContextLength.Exceeded(badRequest.Body) && NextFallback(snapshot, model, m => m.ContextWindowFallbacks, fellBackFrom ??= new(StringComparer.Ordinal) { model }) is { } fallback)
                {
                    // fault 12: never retried on the same model; the larger-context model named in the file takes it
                    LogContextFallback(log, id, model, fallback);
                    metrics.Failovers.Increment(model, "context_window");
                    (model, split, picks) = (fallback, router.SplitOf(fallback), 0);
                    tried.Clear();
                    continue;
                }
                metrics.Requests.Increment(model, version, backend.Id, "400");
                context.Response.Clear();
                AttemptTransformer.Stamp(context.Response, deployment, id, transformer.AddedSeconds);
                await badRequest.WriteAsync(context.Response, context.RequestAborted);
                return;
            }
            if (transformer.Withheld is { } answer)
            {
                withheld = (answer, deployment);
                reason = $"status_{answer.Status}";
                lastFailure = $"{backend.Id} answered {answer.Status}";
                if (answer.Status == StatusCodes.Status429TooManyRequests)
                {
                    // honour Retry-After: no request goes to it before then (default: one breaker period)
                    backend.CoolDown(answer.RetryAfter ?? config.Breaker.OpenFor, lastFailure);
                    rateLimited ??= [];
                    int n = rateLimited.GetValueOrDefault(backend);
                    if (answer.RetryAfter is null && n < config.Retry.RateLimitedRetries)
                    {
                        // fault 2: no Retry-After: back off (exponential, full jitter) and ask it again a bounded number of times
                        rateLimited[backend] = n + 1;
                        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, drain.Aborted);
                        await Task.Delay(Backoff.Delay(config.Retry.Backoff, n), Time, aborted.Token);
                        again = deployment;
                    }
                }
                else
                {
                    backend.Failed(lastFailure, config.Breaker);
                }
                if (answer.Status == StatusCodes.Status500InternalServerError && (retriedSame ??= []).Add(backend))
                {
                    again = deployment; // a single 500 is retried once on the same replica
                }
            }
            else
            {
                reason = ErrorReason(error);
                lastFailure = $"{backend.Id}: {error} ({context.Features.Get<IForwarderErrorFeature>()?.Exception?.Message})";
                backend.Failed(lastFailure, config.Breaker);
            }
            metrics.AttemptEnded(model, version, backend.Id, reason, Time.GetElapsedTime(attemptStart).TotalSeconds);
            LogAttemptFailed(log, id, model, backend.Id, picks, lastFailure);
            if (context.Response.HasStarted)
            {
                // part of the answer is out: it cannot be sent again from another replica
                metrics.Errors.Increment(model, reason);
                return;
            }
            context.Features.Set<IForwarderErrorFeature>(null);
            (again is not null ? metrics.Retries : metrics.Failovers).Increment(model, reason);
        }
    }

    /// <summary>
    /// Whether the request's usage is worked out: for its spend row, or to settle its tokens-per-minute reservation (then
    /// with spend off too). <see cref="RequestUsage.Recorded"/> then marks the usage final, whether or not a row is written.
    /// </summary>
    private bool Metered(HttpContext context) => recorder.Enabled || context.Features.Get<ITokenReservation>() is not null;

    /// <summary>
    /// The request's usage is final: its spend row is written (spend on) and its tokens-per-minute reservation settled to
    /// it, the unused part of the worst case given back; both before the answer's last bytes, so a client that sends its
    /// next request on seeing the answer finds the room.
    /// </summary>
    /// <remarks><paramref name="final"/>: the request has already ended (its error or cancellation), so a row that
    /// cannot commit is kept under either fail mode instead of failing the answer.</remarks>
    private async Task UsageKnownAsync(HttpContext context, RequestUsage usage, bool final = false)
    {
        try
        {
            await recorder.RecordAsync(context, final);
        }
        finally
        {
            // a row refused under fail_mode closed still settles the tokens: the worst case does not hold the window
            usage.Recorded = true;
            if (context.Features.Get<ITokenReservation>() is { } tokens)
            {
                await tokens.SettleAsync(usage.PromptTokens + usage.CompletionTokens);
            }
        }
    }

    private sealed record CachedRequestConfig(TimeoutSettings Timeouts, ForwarderRequestConfig Config);

    private CachedRequestConfig? _requestConfig;

    /// <summary>The forwarder's settings for a configuration's timeouts: one object while the timeouts stay the same.</summary>
    private ForwarderRequestConfig RequestConfigFor(TimeoutSettings timeouts)
    {
        if (Volatile.Read(ref _requestConfig) is { } cached && ReferenceEquals(cached.Timeouts, timeouts))
        {
            return cached.Config;
        }
        var config = new ForwarderRequestConfig { ActivityTimeout = timeouts.Idle };
        Volatile.Write(ref _requestConfig, new CachedRequestConfig(timeouts, config));
        return config;
    }

    /// <summary>The first of a model's fallbacks (of one kind) not used yet by this request; it is marked used.</summary>
    private static string? NextFallback(RoutingSnapshot snapshot, string model, Func<ModelConfig, IReadOnlyList<string>> kind, HashSet<string> used)
    {
        var next = snapshot.Models.TryGetValue(model, out var route) ? kind(route.Config).FirstOrDefault(m => !used.Contains(m) && snapshot.Models.ContainsKey(m)) : null;
        if (next is not null)
        {
            used.Add(next);
        }
        return next;
    }

    /// <summary>Nothing more to try: the last backend's own withheld error when there is one, else the gateway's 502/503.</summary>
    private async Task GiveUpAsync(HttpContext context, string model, string id, string? lastFailure,
        (WithheldAnswer Answer, Deployment From)? withheld)
    {
        if (withheld is { } w)
        {
            metrics.Errors.Increment(model, $"status_{w.Answer.Status}");
            context.Response.Clear();
            AttemptTransformer.Stamp(context.Response, w.From, id, 0);
            // its added latency is stamped when it starts: the whole time, attempts included
            context.Response.Headers.Remove(AttemptTransformer.AddedLatencyHeader);
            await w.Answer.WriteAsync(context.Response, context.RequestAborted);
            return;
        }
        metrics.Errors.Increment(model, lastFailure is null ? "no_backend" : "attempts_failed");
        throw lastFailure is null
            ? ApiException.Unavailable($"No backend of model '{model}' is available (all unready, cooling down or with open circuits).", AdmissionRejection.NotReady)
            : new ApiException(502, $"Every backend tried for model '{model}' failed; the last: {lastFailure}", "server_error", "bad_gateway", null);
    }

    private static string ErrorReason(ForwarderError error) => error switch
    {
        ForwarderError.RequestTimedOut or ForwarderError.ResponseBodyCanceled => "timeout",
        ForwarderError.Request => "connect",
        _ => "transport",
    };

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Request {RequestId}: the prompt exceeds {Model}'s context; sent to {Fallback}")]
    private static partial void LogContextFallback(ILogger log, string requestId, string model, string fallback);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "Request {RequestId}: no replica of {Model} could answer; sent to its fallback {Fallback}")]
    private static partial void LogFallback(ILogger log, string requestId, string model, string fallback);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Request {RequestId} for {Model}: attempt {Attempt} on {Backend} failed: {Failure}")]
    private static partial void LogAttemptFailed(ILogger log, string requestId, string model, string backend, int attempt, string failure);
}
