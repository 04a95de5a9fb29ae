namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// One budget counter: a key's budget in one unit (<c>pico</c>: pico-units of money; <c>tokens</c>) in one period,
/// named by the period's start, so a new period is a new counter that starts from what the spend log holds for it.
/// </summary>
public readonly record struct BudgetCounterId(string KeyId, string Unit, long PeriodStartMs)
{
    public const string Pico = "pico";
    public const string Tokens = "tokens";

    public override string ToString() => $"{KeyId}:{Unit}:{PeriodStartMs}";
}

/// <summary>
/// What a reserve saw: admitted (and then <see cref="Reservation"/> names its reservation) or not, with the counter's
/// spent and reserved amounts at the check.
/// </summary>
public readonly record struct BudgetAnswer(bool Admitted, long Spent, long Reserved, string? Reservation);

/// <summary>A budget counter's store (the spend log to seed it, or Redis) could not be reached; <see cref="Store"/> is "database" or "redis".</summary>
public sealed class BudgetStoreException(string store, string what, Exception inner) : Exception(inner.Message, inner)
{
    public string Store { get; } = store;

    /// <summary>What could not be reached, for the 503 and the log: "budget counters (Redis 127.0.0.1:6379)".</summary>
    public string What { get; } = what;
}

/// <summary>
/// Budget counters: per key, unit and period, the spend committed (<c>spent</c>) and the worst cases of the requests in
/// flight (<c>reserved</c>), as exact integers. A counter is seeded once from the spend log (the SUM over its period)
/// the first time it is used, and kept up to date by <see cref="ReserveAsync"/> before a request and
/// <see cref="SettleAsync"/> after its row has committed, so the common request does no database I/O. The database
/// stays the source of truth: a counter that is missing (evicted, expired) is seeded again.
/// <see cref="MemoryBudgetCounters"/> holds them in the process, <see cref="RedisBudgetCounters"/> in Redis for the fleet.
/// </summary>
public interface IBudgetCounters
{
    /// <summary>"memory" or "Redis 127.0.0.1:6379".</summary>
    string Description { get; }

    /// <summary>
    /// Admits when spent + reserved is under <paramref name="limit"/>, reserving <paramref name="worst"/>; otherwise
    /// not. <paramref name="seed"/> reads the spend log's SUM for the counter's period, called only when the counter
    /// has not been seeded. Throws <see cref="BudgetStoreException"/> when a store cannot be reached.
    /// </summary>
    Task<BudgetAnswer> ReserveAsync(BudgetCounterId id, long limit, long worst, Func<CancellationToken, Task<long>> seed, CancellationToken cancellationToken);

    /// <summary>Releases the reservation (when it is still held) and adds what the request really cost.</summary>
    Task SettleAsync(BudgetCounterId id, string reservation, long worst, long actual);
}
