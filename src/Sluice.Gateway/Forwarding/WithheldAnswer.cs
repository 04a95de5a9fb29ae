using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Sluice.Gateway.Forwarding;

/// <summary>
/// A retryable answer (429, 5xx) held back while another replica is tried: its status, content type, Retry-After and
/// body (bounded). When no other replica takes the request, the client gets this, the backend's own error, rather than
/// one the gateway made up.
/// </summary>
internal sealed record WithheldAnswer(int Status, string? ContentType, TimeSpan? RetryAfter, byte[] Body)
{
    public static async Task<WithheldAnswer> ReadAsync(HttpResponseMessage response, int limit, CancellationToken cancellationToken)
    {
        var body = new MemoryStream();
        await using (var stream = await response.Content.ReadAsStreamAsync(cancellationToken))
        {
            var buffer = new byte[8192];
            int n;
            while (body.Length < limit && (n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, limit - body.Length)), cancellationToken)) > 0)
            {
                body.Write(buffer, 0, n);
            }
        }
        return new WithheldAnswer((int)response.StatusCode, response.Content.Headers.ContentType?.ToString(), RetryAfterOf(response), body.ToArray());
    }

    /// <summary>Retry-After as seconds or an HTTP date, capped at 10 minutes; null when absent or unreadable.</summary>
    public static TimeSpan? RetryAfterOf(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        TimeSpan? delay = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        return delay is { } d ? TimeSpan.FromTicks(Math.Clamp(d.Ticks, 0, TimeSpan.FromMinutes(10).Ticks)) : null;
    }

    public async Task WriteAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        response.StatusCode = Status;
        if (ContentType is not null)
        {
            response.ContentType = ContentType;
        }
        if (RetryAfter is { } retry)
        {
            response.Headers.RetryAfter = Math.Ceiling(retry.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }
        await response.Body.WriteAsync(Body, cancellationToken);
    }
}
