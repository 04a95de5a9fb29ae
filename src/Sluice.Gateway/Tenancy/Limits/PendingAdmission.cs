using Microsoft.AspNetCore.Http;
using Sluice.Gateway.Observability;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Tenancy.Limits;

/// <summary>
/// A request's rpm and parallel-limit check (<see cref="IRequestLimiter.AcquireAsync"/>), sent when its key is known and
/// awaited later: on a completion route by <see cref="TenancyReservations"/> together with the tokens-per-minute and
/// budget reservations (with Redis, the three scripts go out together: one round trip), elsewhere at once. Its lease
/// (the parallel slot) is given back by <see cref="ReleaseAsync"/> when the request ends, whether or not it was awaited.
/// </summary>
public sealed class PendingAdmission(Task<IRequestLease> acquire, GatewayMetrics metrics)
{
    /// <summary>Routes that await the admission themselves, with their reservations: the completion routes (CompletionProxy).</summary>
    public static bool Deferred(string method, string path) =>
        HttpMethods.IsPost(method)
        && (string.Equals(path, "/v1/completions", StringComparison.OrdinalIgnoreCase) || string.Equals(path, "/v1/chat/completions", StringComparison.OrdinalIgnoreCase));

    /// <summary>Waits for the check: the 429 naming the limit (counted) when the key is over it.</summary>
    public async Task AdmitAsync()
    {
        try
        {
            await acquire;
        }
        catch (ApiException e) when (e.Status == 429)
        {
            metrics.KeyRejections.Increment(e.Param == "rpm_limit" ? "rpm" : "parallel");
            throw;
        }
    }

    /// <summary>Gives the parallel slot back (when one was taken); a check that failed has nothing to give.</summary>
    public async ValueTask ReleaseAsync()
    {
        IRequestLease lease;
        try
        {
            lease = await acquire;
        }
        catch (Exception)
        {
            return; // refused or failed: no slot was taken, and the error went to whoever awaited it
        }
        await lease.DisposeAsync();
    }
}
