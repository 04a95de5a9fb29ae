using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Http;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Tenancy.Spend;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tenancy.Limits;

/// <summary>
/// A request's tokens-per-minute and budget reservations, sent together (with Redis: one round trip for both) and awaited
/// here with the key's rpm and parallel check (<see cref="PendingAdmission"/>, sent before the body was read): each one
/// taken is kept on the request, so it is settled when the request ends, whichever refused; the limits' refusal wins,
/// then tokens-per-minute's (the order they were checked in before they went out together).
/// </summary>
internal static class TenancyReservations
{
    /// <summary>The reservation as a task, a refusal thrown before its first await included.</summary>
    public static Task<T> Start<T>(Func<ValueTask<T>> reserve)
    {
        try
        {
            return reserve().AsTask();
        }
        catch (Exception e)
        {
            return Task.FromException<T>(e);
        }
    }

    public static async Task AwaitAsync(HttpContext context, RequestUsage usage, PendingAdmission? admission, Task<ITokenReservation?>? tokens,
        Task<BudgetReservation?> budget, GatewayMetrics metrics)
    {
        ExceptionDispatchInfo? refused = null;
        if (admission is not null)
        {
            try
            {
                await admission.AdmitAsync();
            }
            catch (Exception e)
            {
                refused = ExceptionDispatchInfo.Capture(e);
            }
        }
        if (refused is not null)
        {
            // the key's rpm or parallel limit refused it: what the others reserved goes back at once, and no spend row is
            // written (as when those limits were checked before the body was read)
            await GiveBackAsync(tokens, budget);
            usage.Recorded = true;
            refused.Throw();
        }
        if (tokens is not null)
        {
            try
            {
                context.Features.Set(await tokens);
            }
            catch (ApiException e) when (e.Param is "tpm_limit" or "max_tokens")
            {
                metrics.KeyRejections.Increment("tpm");
                refused = ExceptionDispatchInfo.Capture(e);
            }
            catch (Exception e)
            {
                refused = ExceptionDispatchInfo.Capture(e);
            }
        }
        try
        {
            usage.Reservation = await budget;
        }
        catch (Exception) when (refused is not null)
        {
            // the tokens-per-minute answer is the one the client gets
        }
        refused?.Throw();
    }

    private static async Task GiveBackAsync(Task<ITokenReservation?>? tokens, Task<BudgetReservation?> budget)
    {
        try
        {
            if (tokens is not null && await tokens is { } taken)
            {
                await taken.SettleAsync(0);
            }
        }
        catch (Exception)
        {
            // refused or failed: nothing was taken
        }
        try
        {
            if (await budget is { } reserved)
            {
                await reserved.SettleAsync(0, 0);
            }
        }
        catch (Exception)
        {
            // refused or failed: nothing was taken
        }
    }
}
