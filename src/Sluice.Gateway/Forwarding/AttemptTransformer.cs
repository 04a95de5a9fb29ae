using System.Globalization;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;
using Sluice.Gateway.Routing;
using Sluice.Hosting.Requests;
using Yarp.ReverseProxy.Forwarder;

namespace Sluice.Gateway.Forwarding;

/// <summary>
/// One attempt at one backend: sends the request id and the backend's own key (never the client's), and on the way
/// back either withholds a retryable answer (429, 5xx) so the request can go elsewhere, or passes it on with the
/// gateway's headers: <c>X-Request-Id</c>, <c>X-Sluice-Backend</c>, <c>X-Sluice-Model-Version</c> and
/// <c>X-Sluice-Added-Latency-Ms</c> (time from arrival to the backend's response headers, less the backend's own part).
/// </summary>
internal sealed class AttemptTransformer(Deployment deployment, string requestId, bool lastAttempt, long arrival, TimeProvider time) : HttpTransformer
{
    public const string BackendHeader = "X-Sluice-Backend";
    public const string VersionHeader = "X-Sluice-Model-Version";
    public const string AddedLatencyHeader = "X-Sluice-Added-Latency-Ms";

    private long _sentAt;

    /// <summary>The backend's status code (0 when it gave none).</summary>
    public int Status { get; private set; }

    /// <summary>The answer was retryable and not the last chance: nothing was sent to the client; it is kept here
    /// (bounded) so it can still be passed on when nowhere else takes the request.</summary>
    public WithheldAnswer? Withheld { get; private set; }

    /// <summary>Largest error body kept from a withheld answer; the rest is cut.</summary>
    public const int WithheldBodyLimit = 64 * 1024;

    /// <summary>A 400 is held back too (the model has a context-window fallback: a context-length 400 goes there).</summary>
    public bool WithholdBadRequest { get; init; }

    /// <summary>Seconds the gateway added before the response headers.</summary>
    public double AddedSeconds { get; private set; }

    public static bool Retryable(int status) => status is 429 or 500 or 502 or 503 or 504;

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        if (!httpContext.Request.QueryString.HasValue && httpContext.Request.Path.Value is { } path && destinationPrefix == deployment.Destination)
        {
            // the forwarder would parse prefix + path into a new Uri for every request; the deployment keeps one per route
            proxyRequest.RequestUri = deployment.UriFor(path);
        }
        proxyRequest.Headers.Remove(RequestInfo.Header);
        proxyRequest.Headers.TryAddWithoutValidation(RequestInfo.Header, requestId);
        proxyRequest.Headers.Authorization = deployment.Config.ApiKey is { } key ? new AuthenticationHeaderValue("Bearer", key) : null;
        _sentAt = time.GetTimestamp();
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        if (proxyResponse is null)
        {
            return await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        }
        Status = (int)proxyResponse.StatusCode;
        if ((!lastAttempt && Retryable(Status)) || (WithholdBadRequest && Status == StatusCodes.Status400BadRequest))
        {
            Withheld = await WithheldAnswer.ReadAsync(proxyResponse, WithheldBodyLimit, cancellationToken);
            return false;
        }
        await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        long now = time.GetTimestamp();
        AddedSeconds = Math.Max(0, (time.GetElapsedTime(arrival, now) - time.GetElapsedTime(_sentAt, now)).TotalSeconds);
        Stamp(httpContext.Response, deployment, requestId, AddedSeconds);
        return true;
    }

    /// <summary>The gateway's headers on an answer from <paramref name="deployment"/>.</summary>
    public static void Stamp(HttpResponse response, Deployment deployment, string requestId, double addedSeconds)
    {
        var headers = response.Headers;
        headers[RequestInfo.Header] = requestId;
        headers[BackendHeader] = deployment.Backend.Id;
        headers[VersionHeader] = deployment.Config.Version;
        headers[AddedLatencyHeader] = (addedSeconds * 1000).ToString("0.###", CultureInfo.InvariantCulture);
    }
}
