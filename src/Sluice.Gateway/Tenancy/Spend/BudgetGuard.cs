using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Sluice.Gateway.Tenancy.Storage;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// Budgets (a key's max_budget in money or max_budget_tokens, per budget_duration), checked before a request is
/// forwarded against the key's budget counters (<see cref="IBudgetCounters"/>: in memory, or in Redis for the fleet):
/// while spent + reserved is under the limit the request is admitted and reserves its worst case (the prompt estimated,
/// plus max_tokens, at the model's highest price); once its row has committed the reservation is settled: released,
/// and the real cost added. So a budget overshoots by at most one request's reservation (per gateway without Redis,
/// fleet-wide with it), and a budget of 0 refuses everything. The counters are seeded from the spend log once per
/// period, so a request does no database I/O in the common case. A store that cannot be reached follows
/// tenancy.fail_mode: closed refuses (503 naming the store), open admits the request unreserved (logged and counted).
/// </summary>
public sealed class BudgetGuard(SpendService spend, IServiceProvider services, TimeProvider time)
{
    /// <summary>max_tokens reserved when a request does not say.</summary>
    public const int DefaultMaxTokens = 4096;

    private readonly IBudgetCounters _counters = services.GetService<IBudgetCounters>() ?? new MemoryBudgetCounters(time);

    /// <summary>Reserves the request's worst case or throws the 400 budget_exceeded; null when the key has no budget.</summary>
    public async Task<BudgetReservation?> ReserveAsync(VirtualKey key, long promptTokens, long maxTokens, Price price, CancellationToken cancellationToken)
    {
        if (key.MaxBudget is null && key.MaxBudgetTokens is null)
        {
            return null;
        }
        var store = spend.Store ?? throw new ApiException(StatusCodes.Status503ServiceUnavailable,
            $"This API key ({key.Id}) has a budget, but this gateway records no spend (tenancy.spend.enabled is false): it cannot be enforced.",
            "server_error", "budget_unenforceable", null);
        var period = BudgetPeriod.Current(key.BudgetDuration, key.CreatedAt, time.GetUtcNow());
        long start = period.Start.ToUnixTimeMilliseconds();
        var counters = _counters;
        var reservation = new BudgetReservation(counters);
        try
        {
            if (key.MaxBudget is { } money)
            {
                var id = new BudgetCounterId(key.Id, BudgetCounterId.Pico, start);
                long worst = price.Cost(promptTokens, maxTokens);
                var answer = await counters.ReserveAsync(id, LimitPico(money), worst, ct => SeedAsync(store, key.Id, period, money: true, ct), cancellationToken);
                if (!answer.Admitted)
                {
                    throw Exceeded(key, "max_budget", money.ToString(CultureInfo.InvariantCulture), Price.ToMoney(answer.Spent).ToString(CultureInfo.InvariantCulture),
                        Price.ToMoney(answer.Reserved).ToString(CultureInfo.InvariantCulture), period);
                }
                reservation.Add(id, answer.Reservation!, worst);
            }
            if (key.MaxBudgetTokens is { } tokens)
            {
                var id = new BudgetCounterId(key.Id, BudgetCounterId.Tokens, start);
                long worst = promptTokens + maxTokens;
                var answer = await counters.ReserveAsync(id, tokens, worst, ct => SeedAsync(store, key.Id, period, money: false, ct), cancellationToken);
                if (!answer.Admitted)
                {
                    throw Exceeded(key, "max_budget_tokens", $"{tokens} tokens", $"{answer.Spent} tokens", $"{answer.Reserved} tokens", period);
                }
                reservation.Add(id, answer.Reservation!, worst);
            }
            return reservation;
        }
        catch (BudgetStoreException e)
        {
            await reservation.SettleAsync(0, 0);
            if (services.GetService<TenancyFailures>() is { } failures && failures.Failed(e.Store, e.What, e.Message, code: e.Store == "redis" ? "redis_unavailable" : "spend_store_unavailable") is { } refuse)
            {
                throw refuse;
            }
            return null; // fail open: served without a reservation
        }
        catch
        {
            await reservation.SettleAsync(0, 0);
            throw;
        }
    }

    /// <summary>
    /// The prompt's tokens as a budget reserves them, on the safe side of real tokenizers: 2 UTF-8 bytes a token (at
    /// least 1 for any text) for text, and 4 more per chat message for its template; token-id prompts as they are; a list of prompts
    /// summed.
    /// </summary>
    public static long WorstPromptTokens(JsonObject body)
    {
        static long Text(string? text) => string.IsNullOrEmpty(text) ? 0 : Math.Max(1, (Encoding.UTF8.GetByteCount(text) + 1) / 2);
        if (body["messages"] is JsonArray messages)
        {
            return messages.Sum(message => 4 + (message?["content"] switch
            {
                JsonValue text when text.TryGetValue(out string? s) => Text(s),
                JsonArray parts => parts.Sum(part => part?["text"] is JsonValue t && t.TryGetValue(out string? s) ? Text(s) : 0),
                _ => 0,
            }));
        }
        return body["prompt"] switch
        {
            JsonValue text when text.TryGetValue(out string? s) => Text(s),
            JsonArray { Count: > 0 } list when list[0] is JsonValue first && first.TryGetValue(out int _) => list.Count,
            JsonArray list => list.Sum(p => p is JsonValue t && t.TryGetValue(out string? s) ? Text(s) : p is JsonArray ids ? ids.Count : 0),
            _ => 0,
        };
    }

    /// <summary>The budget in pico-units (a budget over 9.2 million currency units holds as that).</summary>
    private static long LimitPico(decimal money)
    {
        decimal pico = decimal.Truncate(money * Price.PicoPerUnit);
        return pico >= long.MaxValue ? long.MaxValue : (long)pico;
    }

    private static async Task<long> SeedAsync(SpendStore store, string keyId, BudgetPeriod period, bool money, CancellationToken cancellationToken)
    {
        try
        {
            var (pico, tokens) = await store.KeyTotalsAsync(keyId, period.Start, cancellationToken);
            return money ? pico : tokens;
        }
        catch (Exception e) when (e is DbException or TenancyStoreException or InvalidOperationException or IOException or TimeoutException
            && !cancellationToken.IsCancellationRequested)
        {
            throw new BudgetStoreException("database", $"spend log ({store.Database.Description})", e);
        }
    }

    private static ApiException Exceeded(VirtualKey key, string budget, string limit, string spent, string reserved, BudgetPeriod period) =>
        new(StatusCodes.Status400BadRequest,
            $"Budget has been exceeded: key {key.Id} spent {spent} (and {reserved} reserved by requests in flight) of its {budget} {limit}"
            + (period.End is { } end ? $" for the period since {period.Start:u}; it resets at {end:u}." : "; the budget has no budget_duration and never resets."),
            "budget_exceeded", "budget_exceeded", null, budget);
}

/// <summary>A request's budget reservations (money, tokens), settled once after its row has committed.</summary>
public sealed class BudgetReservation(IBudgetCounters counters)
{
    private readonly List<(BudgetCounterId Id, string Member, long Worst)> _held = [];
    private int _settled;

    internal void Add(BudgetCounterId id, string member, long worst) => _held.Add((id, member, worst));

    /// <summary>Releases the reservations and adds the request's real cost (pico-units, tokens); later calls do nothing.</summary>
    public async Task SettleAsync(long pico, long tokens)
    {
        if (Interlocked.Exchange(ref _settled, 1) != 0)
        {
            return;
        }
        foreach (var (id, member, worst) in _held)
        {
            await counters.SettleAsync(id, member, worst, id.Unit == BudgetCounterId.Pico ? pico : tokens);
        }
    }
}
