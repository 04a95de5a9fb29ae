using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tenancy.Limits;

/// <summary>A request admitted under its key's limits: disposing it gives its parallel-request slot back.</summary>
public interface IRequestLease : IAsyncDisposable;

/// <summary>
/// A key's requests-per-minute (a sliding one-minute window: at most rpm_limit requests admitted in any 60 s) and
/// parallel-request (max_parallel_requests in flight) limits: fleet-wide in Redis (<see cref="RedisRequestLimiter"/>),
/// or in this process without Redis (<see cref="LocalRequestLimiter"/>, one gateway).
/// </summary>
public interface IRequestLimiter
{
    /// <summary>Admits the request or throws the 429 (with an honest Retry-After) naming the limit; the fail mode's 503 when Redis is unreachable.</summary>
    ValueTask<IRequestLease> AcquireAsync(VirtualKey key, CancellationToken cancellationToken);
}

/// <summary>The 429s: what limit, its value, and when to come back.</summary>
internal static class LimitErrors
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    public static ApiException Rpm(VirtualKey key, TimeSpan retryAfter) =>
        new(429, $"{Subject(key)} reached its limit of {key.RequestsPerMinute} requests per minute (rpm_limit); retry in {Seconds(retryAfter)} s.",
            "rate_limit_error", "rpm_limit_exceeded", AdmissionRejection.QueueFull, "rpm_limit")
        { RetryAfterSeconds = Seconds(retryAfter) };

    public static ApiException Parallel(VirtualKey key) =>
        new(429, $"{Subject(key)} already has {key.MaxParallelRequests} requests in flight, its limit (max_parallel_requests); retry when one finishes.",
            "rate_limit_error", "parallel_limit_exceeded", AdmissionRejection.QueueFull, "max_parallel_requests")
        { RetryAfterSeconds = 1 };

    public static ApiException Tpm(VirtualKey key, long tokens, long inWindow, TimeSpan retryAfter) =>
        new(429, $"{Subject(key)} reached its limit of {key.TokensPerMinute} tokens per minute (tpm_limit): {inWindow} tokens are in the last minute's window "
            + $"and this request may use up to {tokens}; retry in {Seconds(retryAfter)} s.",
            "rate_limit_error", "tpm_limit_exceeded", AdmissionRejection.QueueFull, "tpm_limit")
        { RetryAfterSeconds = Seconds(retryAfter) };

    /// <summary>The request's worst case alone is over the limit: no wait would let it in, so a 400, not a 429.</summary>
    public static ApiException NeverFits(VirtualKey key, long tokens, long promptTokens) =>
        new(400, $"This request may use up to {tokens} tokens ({promptTokens} prompt tokens, estimated, and {tokens - promptTokens} to generate: its "
            + $"max_tokens, or {Spend.BudgetGuard.DefaultMaxTokens} when it gives none), more than {Subject(key, capital: false)}'s limit of {key.TokensPerMinute} tokens per minute (tpm_limit): it can never be "
            + "admitted. Lower max_tokens or shorten the prompt.",
            "invalid_request_error", "tpm_limit_exceeded", AdmissionRejection.InvalidRequest, "max_tokens");

    /// <summary>"Key key_…", or "Team ID" for a team's shared limits (<see cref="Teams.Team.AsLimitSubject"/>).</summary>
    public static string Subject(VirtualKey key, bool capital = true) =>
        key.Id.StartsWith(Teams.Team.SubjectPrefix, StringComparison.Ordinal)
            ? $"{(capital ? "Team" : "team")} {key.Id[Teams.Team.SubjectPrefix.Length..]}"
            : $"{(capital ? "Key" : "key")} {key.Id}";

    /// <summary>Whole seconds, rounded up, at least 1: a client that waits that long finds room.</summary>
    public static int Seconds(TimeSpan wait) => Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
}

/// <summary>Nothing to give back.</summary>
internal sealed class NoLease : IRequestLease
{
    public static readonly NoLease Instance = new();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
