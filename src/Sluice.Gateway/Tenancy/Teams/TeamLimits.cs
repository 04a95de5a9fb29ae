using System.Data.Common;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Tenancy.Limits;
using Sluice.Gateway.Tenancy.Spend;
using Sluice.Gateway.Tenancy.Storage;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tenancy.Teams;

/// <summary>
/// A team's limits and budget, checked after the key's with the same machinery: the team is one more subject of the
/// request limiter (rpm, parallel), the token limiter (tpm) and the budget counters, named "team:ID" so all its keys
/// share them (fleet-wide with Redis). The request's team is put on it (<c>HttpContext.Features.Get&lt;Team&gt;()</c>)
/// by key authentication.
/// </summary>
public static class TeamLimits
{
    /// <summary>Admits the request under its team's rpm and parallel limits (after its key's); the 429 names the team.</summary>
    public static async ValueTask<IRequestLease> AcquireAsync(Team team, IRequestLimiter limiter, CancellationToken cancellationToken) =>
        team.RequestsPerMinute is null && team.MaxParallelRequests is null
            ? NoLease.Instance
            : await limiter.AcquireAsync(team.AsLimitSubject(), cancellationToken);

    /// <summary>403 when the request's team does not allow <paramref name="model"/>.</summary>
    public static void RequireModel(HttpContext context, VirtualKey key, string model)
    {
        if (context.Features.Get<Team>() is { } team && !team.Allows(model))
        {
            context.RequestServices.GetService<GatewayMetrics>()?.KeyRejections.Increment("model");
            throw new ApiException(403, $"This API key ({key.Id}) belongs to team {team.Id}, which is not allowed to call the model `{model}`; "
                + $"the team may call: {string.Join(", ", team.Models)}.", "permission_error", "model_not_allowed", AdmissionRejection.Unauthorized, "model");
        }
    }

    /// <summary>
    /// Reserves the request's worst case in its team's tokens-per-minute window, after the key's: the request's token
    /// reservation (<see cref="ITokenReservation"/> on the request) then settles both.
    /// </summary>
    public static async Task ReserveTokensAsync(HttpContext context, long promptTokens, long maxTokens)
    {
        if (context.Features.Get<Team>() is not { TokensPerMinute: not null } team || context.RequestServices.GetService<ITokenLimiter>() is not { } limiter)
        {
            return;
        }
        ITokenReservation? reserved;
        try
        {
            reserved = await limiter.ReserveAsync(team.AsLimitSubject(), promptTokens + maxTokens, promptTokens, context.RequestAborted);
        }
        catch (ApiException e) when (e.Param is "tpm_limit" or "max_tokens")
        {
            context.RequestServices.GetService<GatewayMetrics>()?.KeyRejections.Increment("tpm");
            throw;
        }
        if (reserved is not null)
        {
            var own = context.Features.Get<ITokenReservation>();
            context.Features.Set<ITokenReservation>(own is null ? reserved : new BothReservations(own, reserved));
        }
    }

    /// <summary>The key's and the team's token reservations, settled together.</summary>
    private sealed class BothReservations(ITokenReservation key, ITokenReservation team) : ITokenReservation
    {
        public async ValueTask SettleAsync(long used)
        {
            await key.SettleAsync(used);
            await team.SettleAsync(used);
        }
    }
}

/// <summary>
/// A team's budget (max_budget per budget_duration, counted from the team's creation), on the same counters as keys'
/// budgets (<see cref="IBudgetCounters"/>: in memory, or Redis for the fleet) under the name "team:ID", seeded from the
/// spend log's rows of the team. Its reservation joins the key's, so one settle after the row committed settles both.
/// So a team's budget overshoots by at most one request's reservation, fleet-wide with Redis.
/// </summary>
public sealed class TeamBudgetGuard(SpendService spend, IServiceProvider services, TimeProvider time)
{
    /// <summary>
    /// Reserves the request's worst case against its team's budget, adding it to <paramref name="held"/> (the key's
    /// reservation, or a new one when the key has none); throws the 400 naming the team's budget when it is spent.
    /// Returns what the request holds now.
    /// </summary>
    public async Task<BudgetReservation?> ReserveAsync(HttpContext context, BudgetReservation? held, long promptTokens, long maxTokens, Price price,
        CancellationToken cancellationToken)
    {
        if (context.Features.Get<Team>() is not { MaxBudget: { } money } team)
        {
            return held;
        }
        var store = spend.Store ?? throw new ApiException(StatusCodes.Status503ServiceUnavailable,
            $"Team {team.Id} has a budget, but this gateway records no spend (tenancy.spend.enabled is false): it cannot be enforced.",
            "server_error", "budget_unenforceable", null);
        var counters = services.GetRequiredService<IBudgetCounters>();
        var period = BudgetPeriod.Current(team.BudgetDuration, team.CreatedAt, time.GetUtcNow());
        var id = new BudgetCounterId(Team.SubjectPrefix + team.Id, BudgetCounterId.Pico, period.Start.ToUnixTimeMilliseconds());
        long worst = price.Cost(promptTokens, maxTokens);
        BudgetAnswer answer;
        try
        {
            answer = await counters.ReserveAsync(id, LimitPico(money), worst, ct => SeedAsync(store.Database, team.Id, period, ct), cancellationToken);
        }
        catch (BudgetStoreException e)
        {
            if (services.GetService<TenancyFailures>() is { } failures
                && failures.Failed(e.Store, e.What, e.Message, code: e.Store == "redis" ? "redis_unavailable" : "spend_store_unavailable") is { } refuse)
            {
                throw refuse;
            }
            return held; // fail open: served without the team's reservation
        }
        if (!answer.Admitted)
        {
            throw Exceeded(team, money, answer, period);
        }
        held ??= new BudgetReservation(counters);
        held.Add(id, answer.Reservation!, worst);
        return held;
    }

    /// <summary>The team's spend (currency units) in its current budget period, from the spend log; 0 with spend off.</summary>
    public async Task<decimal> SpendAsync(Team team, CancellationToken cancellationToken)
    {
        if (spend.Store is not { } store)
        {
            return 0m;
        }
        var period = BudgetPeriod.Current(team.BudgetDuration, team.CreatedAt, time.GetUtcNow());
        return Price.ToMoney((await TeamStore.TotalsAsync(store.Database, team.Id, period.Start, cancellationToken)).SpendPico);
    }

    private static long LimitPico(decimal money)
    {
        decimal pico = decimal.Truncate(money * Price.PicoPerUnit);
        return pico >= long.MaxValue ? long.MaxValue : (long)pico;
    }

    private static async Task<long> SeedAsync(TenancyDatabase database, string teamId, BudgetPeriod period, CancellationToken cancellationToken)
    {
        try
        {
            return (await TeamStore.TotalsAsync(database, teamId, period.Start, cancellationToken)).SpendPico;
        }
        catch (Exception e) when (e is DbException or TenancyStoreException or InvalidOperationException or IOException or TimeoutException
            && !cancellationToken.IsCancellationRequested)
        {
            throw new BudgetStoreException("database", $"spend log ({database.Description})", e);
        }
    }

    private static ApiException Exceeded(Team team, decimal limit, BudgetAnswer answer, BudgetPeriod period) =>
        new(StatusCodes.Status400BadRequest,
            $"Budget has been exceeded: team {team.Id} spent {Price.ToMoney(answer.Spent).ToString(CultureInfo.InvariantCulture)} (and "
            + $"{Price.ToMoney(answer.Reserved).ToString(CultureInfo.InvariantCulture)} reserved by requests in flight) of its team max_budget "
            + limit.ToString(CultureInfo.InvariantCulture)
            + (period.End is { } end ? $" for the period since {period.Start:u}; it resets at {end:u}." : "; the team's budget has no budget_duration and never resets."),
            "budget_exceeded", "team_budget_exceeded", null, "max_budget");
}

/// <summary>A request's key lease and its team's, given back together.</summary>
internal sealed class BothLeases(IRequestLease key, IRequestLease team) : IRequestLease
{
    /// <summary>Adds the team's lease to the key's <paramref name="key"/>; a refusal gives the key's back first.</summary>
    public static async ValueTask<IRequestLease> AcquireAsync(IRequestLease key, Team team, IRequestLimiter limiter, CancellationToken cancellationToken)
    {
        IRequestLease own;
        try
        {
            own = await TeamLimits.AcquireAsync(team, limiter, cancellationToken);
        }
        catch
        {
            await key.DisposeAsync();
            throw;
        }
        return own is NoLease ? key : new BothLeases(key, own);
    }

    public async ValueTask DisposeAsync()
    {
        await team.DisposeAsync();
        await key.DisposeAsync();
    }
}
