namespace Sluice.Gateway.Tenancy.Limits;

/// <summary>A request's tokens held in its key's tokens-per-minute window.</summary>
public interface ITokenReservation
{
    /// <summary>
    /// Replaces the reserved worst case with the tokens the request used (prompt + completion, as billed), keeping its
    /// admission time: the unused part goes back at once. Once; later calls do nothing. An entry that already left the
    /// window is not brought back.
    /// </summary>
    ValueTask SettleAsync(long used);
}

/// <summary>
/// A key's tokens-per-minute limit (LiteLLM's tpm_limit): a sliding one-minute window of the tokens of admitted requests.
/// A request reserves its worst case (prompt + max_tokens) at admission, counted at its admission time, and settles to
/// what it used when it ends; it is admitted when the window's tokens plus its worst case stay within the limit, so the
/// tokens admitted in any 60 s never exceed the limit (what the estimate of a prompt misses aside). Fleet-wide in Redis
/// (<see cref="RedisTokenLimiter"/>), or in this process without Redis (<see cref="LocalTokenLimiter"/>).
/// </summary>
public interface ITokenLimiter
{
    /// <summary>
    /// Reserves <paramref name="tokens"/> (the request's worst case) or throws: the 429 naming tpm_limit with a Retry-After
    /// (when enough tokens leave the window); a 400 when the worst case alone is over the limit (it could never be
    /// admitted); the fail mode's 503 when Redis is unreachable. Null when the key has no tpm_limit (or Redis failed open).
    /// </summary>
    ValueTask<ITokenReservation?> ReserveAsync(VirtualKey key, long tokens, long promptTokens, CancellationToken cancellationToken);
}
