using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Sluice.Hosting.Requests;

/// <summary>
/// Gives every request an id (the caller's X-Request-Id when it sends a sane one, so a request can be
/// followed from the gateway through the engine) and notes when it arrived; echoes the id in the response.
/// </summary>
public sealed class RequestInfo(RequestDelegate next, TimeProvider time)
{
    /// <summary>The header that carries the id, in and out.</summary>
    public const string Header = "X-Request-Id";

    /// <summary>What is noted on arrival, as one request feature (cheaper than two HttpContext.Items entries).</summary>
    private sealed class Arrival(string id, long start)
    {
        public string Id { get; } = id;
        public long Start { get; } = start;
    }

    public Task InvokeAsync(HttpContext context)
    {
        string? given = context.Request.Headers[Header];
        string id = IsSane(given) ? given! : Guid.NewGuid().ToString("N");
        context.Features.Set(new Arrival(id, time.GetTimestamp()));
        context.Response.Headers[Header] = id;
        return next(context);
    }

    /// <summary>The request's id (the caller's, or one made up on arrival).</summary>
    public static string Id(HttpContext context) => context.Features.Get<Arrival>()?.Id ?? context.TraceIdentifier;

    /// <summary>The TimeProvider timestamp of the request's arrival (0 before this middleware ran).</summary>
    public static long Start(HttpContext context) => context.Features.Get<Arrival>()?.Start ?? 0;

    /// <summary>The matched route's template (bounded, unlike raw paths), or "unmatched".</summary>
    public static string Route(HttpContext context) =>
        (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";

    /// <summary>Up to 128 printable ASCII characters: an id that is safe to log and to echo back.</summary>
    private static bool IsSane(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= 128 && !id.AsSpan().ContainsAnyExceptInRange('!', '~');
}
