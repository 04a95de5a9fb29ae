namespace Sluice.Gateway.Tenancy;

/// <summary>
/// How a gateway takes a share of a key's limit from Redis so most requests are admitted without a round trip. When a
/// limit has room, the script that admits a request grants this gateway more than the request needs: a share of at most
/// 1/<see cref="Divisor"/> of the room left, and at most <see cref="MostRequests"/> requests' worth. Later requests are
/// admitted from the share in this process while it is open (<see cref="OpenFor"/>); then it is closed and what it did
/// not use goes back. What a share holds counts in Redis as taken, so the fleet never admits more than the limit; near
/// the limit the room/<see cref="Divisor"/> falls below one request and every request asks Redis, as without shares.
/// </summary>
internal static class RedisShares
{
    /// <summary>A share is at most this fraction of the room the limit has left (several gateways can hold one each).</summary>
    public const int Divisor = 8;

    /// <summary>A share is at most this many requests' worth.</summary>
    public const int MostRequests = 64;

    /// <summary>How long a share admits requests; then what it did not use goes back to the limit.</summary>
    public static readonly TimeSpan OpenFor = TimeSpan.FromSeconds(1);

    /// <summary>How often open shares are checked for closing (an idle one gives back what it holds within OpenFor + this).</summary>
    public static readonly TimeSpan SweepEvery = TimeSpan.FromMilliseconds(250);
}
