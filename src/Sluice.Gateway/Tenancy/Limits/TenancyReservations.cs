using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Http;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Tenancy.Spend;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tenancy.Limits;

/// <summary>
/// A request's tokens-per-minute and budget reservations, sent together (with Redis: one round trip for both) and awaited
/// here: each one taken is kept on the request, so it is settled when the request ends, whichever refused; the
/// tokens-per-minute refusal wins when both refuse (it was checked first before they went out together).
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

    public static async Task AwaitAsync(HttpContext context, RequestUsage usage, Task<ITokenReservation?>? tokens, Task<BudgetReservation?> budget,
        GatewayMetrics metrics)
    {
        ExceptionDispatchInfo? refused = null;
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
}
