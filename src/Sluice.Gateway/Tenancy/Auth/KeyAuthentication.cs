using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sluice.Gateway.Management;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Tenancy.Keys;
using Sluice.Gateway.Tenancy.Limits;
using Sluice.Gateway.Tenancy.Teams;
using Sluice.Hosting.Auth;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Requests;

namespace Sluice.Gateway.Tenancy.Auth;

/// <summary>
/// Virtual-key authentication (tenancy on), in place of the hosting layer's key check: the key comes as
/// <c>Authorization: Bearer KEY</c> or <c>x-api-key: KEY</c>. The master key and the --api-key keys pass as before (no
/// <see cref="VirtualKey"/>); a virtual key is resolved through the <see cref="KeyCache"/>, put on the request
/// (<c>HttpContext.Features.Set&lt;VirtualKey&gt;</c>) and admitted under its rpm and parallel limits. The health
/// probes stay open; the admin routes check the master key themselves. Every request made with a virtual key is logged
/// with the key's id and team, never its secret.
/// </summary>
internal sealed partial class KeyAuthentication(RequestDelegate next, KeyCache cache, TeamCache teams, IRequestLimiter limiter, FileApiKeyStore clients,
    GatewayOptions options, GatewayMetrics metrics, TimeProvider time, ILogger<KeyAuthentication> log)
{
    private readonly HashSet<string> _open = new(options.Hosting.OpenPaths.Select(p => p.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);

    public async Task InvokeAsync(HttpContext context)
    {
        string path = context.Request.Path.Value?.TrimEnd('/') ?? "";
        if (_open.Contains(path) || context.Items.ContainsKey("sluice.open") || KeyEndpoints.IsAdminPath(path))
        {
            await next(context);
            return;
        }
        string? presented = Presented(context.Request);
        if (presented is null)
        {
            throw Refuse("missing", "Missing API key: send it as 'Authorization: Bearer KEY' or 'x-api-key: KEY'.");
        }
        if (GatewayKeyStore.IsMaster(presented, options.MasterKey) || (clients.Enabled && await clients.IsValidAsync(presented, context.RequestAborted)))
        {
            await next(context);
            return;
        }
        if (KeySecrets.Malformed(presented) is { } problem)
        {
            throw Refuse("malformed", $"Incorrect API key provided: {problem}.");
        }
        var (status, stored) = await cache.ResolveAsync(presented, context.RequestAborted);
        var key = status switch
        {
            KeyStatus.Valid => stored!.Key,
            KeyStatus.Revoked => throw Refuse("revoked", $"This API key ({stored!.Key.Id}) was revoked at {stored.RevokedAt:u}."),
            KeyStatus.Blocked => throw Refuse("blocked", $"This API key ({stored!.Key.Id}) is blocked (since {stored.BlockedAt:u}); an admin can unblock it (POST /key/unblock)."),
            KeyStatus.Expired => throw Refuse("expired", $"This API key ({stored!.Key.Id}) expired at {stored.Key.ExpiresAt:u}."),
            KeyStatus.RotatedOut => throw Refuse("expired", $"This API key ({stored!.Key.Id}) was rotated; its grace period ended at {stored.PreviousSecretUntil:u}. Use the new key."),
            _ => throw Refuse("unknown", "Incorrect API key provided: no such key."),
        };
        context.Features.Set(key);
        // the key's team (its team_id naming a team): blocked refuses every key of it; its limits apply after the key's
        var team = await teams.ResolveAsync(key, context.RequestAborted);
        if (team is not null)
        {
            if (team.BlockedAt is not null)
            {
                metrics.KeyRejections.Increment("blocked");
                throw TeamCache.Blocked(key, team);
            }
            context.Features.Set(team);
        }
        // the limits' check goes out now; a completion route awaits it with its tokens-per-minute and budget reservations
        // (CompletionProxy, once the body is read: one Redis round trip for all three, and one more for a team's), any other route here
        var admission = new PendingAdmission(team is null
            ? TenancyReservations.Start(() => limiter.AcquireAsync(key, context.RequestAborted))
            : TenancyReservations.Start(() => AcquireWithTeamAsync(key, team, context.RequestAborted)), metrics);
        if (PendingAdmission.Deferred(context.Request.Method, path))
        {
            context.Features.Set(admission);
        }
        else
        {
            try
            {
                await admission.AdmitAsync();
            }
            catch (ApiException e) when (e.Status == StatusCodes.Status429TooManyRequests)
            {
                LogRequest(log, RequestInfo.Id(context), context.Request.Method, path, e.Status, key.Id, key.Team ?? "-", 0);
                throw;
            }
        }
        long start = time.GetTimestamp();
        int? failed = null;
        try
        {
            await next(context);
        }
        catch (ApiException e)
        {
            failed = e.Status;
            throw;
        }
        catch (Exception)
        {
            failed = StatusCodes.Status500InternalServerError;
            throw;
        }
        finally
        {
            await admission.ReleaseAsync();
            LogRequest(log, RequestInfo.Id(context), context.Request.Method, path, failed ?? context.Response.StatusCode, key.Id, key.Team ?? "-",
                time.GetElapsedTime(start).TotalMilliseconds);
        }
    }

    // the key's limits, then its team's (a team's refusal gives the key's lease back)
    private async ValueTask<IRequestLease> AcquireWithTeamAsync(VirtualKey key, Team team, CancellationToken cancellationToken) =>
        await BothLeases.AcquireAsync(await limiter.AcquireAsync(key, cancellationToken), team, limiter, cancellationToken);

    /// <summary>403 when the request's key may not call <paramref name="model"/> (CompletionProxy asks, once it has read the body).</summary>
    public static void RequireModel(HttpContext context, string model)
    {
        if (context.Features.Get<VirtualKey>() is { } key && !key.Allows(model))
        {
            context.RequestServices.GetService<GatewayMetrics>()?.KeyRejections.Increment("model");
            throw new ApiException(403, $"This API key ({key.Id}) is not allowed to call the model `{model}`; it may call: {string.Join(", ", key.Models)}.",
                "permission_error", "model_not_allowed", AdmissionRejection.Unauthorized, "model");
        }
        if (context.Features.Get<VirtualKey>() is { } member)
        {
            TeamLimits.RequireModel(context, member, model);
        }
    }

    private static string? Presented(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        if (!string.IsNullOrWhiteSpace(header))
        {
            return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : header.Trim();
        }
        string? apiKey = request.Headers["x-api-key"];
        return string.IsNullOrWhiteSpace(apiKey) ? null : apiKey.Trim();
    }

    private ApiException Refuse(string reason, string message)
    {
        metrics.KeyRejections.Increment(reason);
        return ApiException.Unauthorized(message);
    }

    [LoggerMessage(EventId = 403, Level = LogLevel.Information, Message = "Request {RequestId} {Method} {Path} {Status} key={KeyId} team={Team} in {Milliseconds:0.###} ms")]
    private static partial void LogRequest(ILogger log, string requestId, string method, string path, int status, string keyId, string team, double milliseconds);
}
