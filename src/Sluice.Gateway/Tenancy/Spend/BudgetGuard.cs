using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// Budgets (a key's max_budget in money or max_budget_tokens, per budget_duration), checked before a request is
/// forwarded: the key's spend in its period (the spend log, so every replica on the same database sees every committed
/// row) plus what this gateway has reserved for the key's requests in flight must be under the limit; the request then
/// reserves its worst case (the prompt estimated, plus max_tokens, at the model's highest price) until its own row has
/// committed. So a budget overshoots by at most one request's reservation per gateway, and a budget of 0 refuses
/// everything. Per key, reserving and releasing are serialized (a release never falls between the database read and
/// the check of another request).
/// </summary>
public sealed class BudgetGuard(SpendService spend, TimeProvider time)
{
    /// <summary>max_tokens reserved when a request does not say.</summary>
    public const int DefaultMaxTokens = 4096;

    private sealed class Held
    {
        public readonly SemaphoreSlim Gate = new(1, 1);
        public long Pico;
        public long Tokens;
    }

    private readonly ConcurrentDictionary<string, Held> _held = new(StringComparer.Ordinal);

    /// <summary>Reserves the request's worst case or throws the 400 budget_exceeded; null when the key has no budget.</summary>
    public async Task<IAsyncDisposable?> ReserveAsync(VirtualKey key, long promptTokens, long maxTokens, Price price, CancellationToken cancellationToken)
    {
        if (key.MaxBudget is null && key.MaxBudgetTokens is null)
        {
            return null;
        }
        var store = spend.Store ?? throw new ApiException(StatusCodes.Status503ServiceUnavailable,
            $"This API key ({key.Id}) has a budget, but this gateway records no spend (tenancy.spend.enabled is false): it cannot be enforced.",
            "server_error", "budget_unenforceable", null);
        var period = BudgetPeriod.Current(key.BudgetDuration, key.CreatedAt, time.GetUtcNow());
        var held = _held.GetOrAdd(key.Id, _ => new Held());
        long worstTokens = promptTokens + maxTokens, worstPico = price.Cost(promptTokens, maxTokens);
        await held.Gate.WaitAsync(cancellationToken);
        try
        {
            var (spentPico, spentTokens) = await store.KeyTotalsAsync(key.Id, period.Start, cancellationToken);
            if (key.MaxBudget is { } money && spentPico + held.Pico >= (long)(money * Price.PicoPerUnit))
            {
                throw Exceeded(key, "max_budget", money.ToString(CultureInfo.InvariantCulture), Price.ToMoney(spentPico).ToString(CultureInfo.InvariantCulture),
                    Price.ToMoney(held.Pico).ToString(CultureInfo.InvariantCulture), period);
            }
            if (key.MaxBudgetTokens is { } tokens && spentTokens + held.Tokens >= tokens)
            {
                throw Exceeded(key, "max_budget_tokens", $"{tokens} tokens", $"{spentTokens} tokens", $"{held.Tokens} tokens", period);
            }
            held.Pico += worstPico;
            held.Tokens += worstTokens;
        }
        finally
        {
            held.Gate.Release();
        }
        return new Reservation(held, worstPico, worstTokens);
    }

    private static ApiException Exceeded(VirtualKey key, string budget, string limit, string spent, string reserved, BudgetPeriod period) =>
        new(StatusCodes.Status400BadRequest,
            $"Budget has been exceeded: key {key.Id} spent {spent} (and {reserved} reserved by requests in flight) of its {budget} {limit}"
            + (period.End is { } end ? $" for the period since {period.Start:u}; it resets at {end:u}." : "; the budget has no budget_duration and never resets."),
            "budget_exceeded", "budget_exceeded", null, budget);

    private sealed class Reservation(Held held, long pico, long tokens) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await held.Gate.WaitAsync();
            held.Pico -= pico;
            held.Tokens -= tokens;
            held.Gate.Release();
        }
    }
}
