using Microsoft.AspNetCore.Http;
using Sluice.Hosting.Errors;

namespace Sluice.Hosting.Auth;

/// <summary>
/// With any key configured, every route needs <c>Authorization: Bearer KEY</c> except the open paths
/// (by default the health probes), so /metrics, /admin/* and /debug/* are never left open by accident.
/// </summary>
internal sealed class ApiKeyMiddleware(RequestDelegate next, IApiKeyStore keys, SluiceHostingOptions options)
{
    private const string Scheme = "Bearer ";

    private readonly HashSet<string> _open = new(options.OpenPaths.Select(p => p.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);

    public Task InvokeAsync(HttpContext context) =>
        !keys.Enabled || _open.Contains(context.Request.Path.Value?.TrimEnd('/') ?? "") || context.Items.ContainsKey(MetricsPortMiddleware.OpenItem)
            ? next(context) // no await: the common, open case costs no state machine
            : CheckAsync(context);

    private async Task CheckAsync(HttpContext context)
    {
        string? header = context.Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            throw ApiException.Unauthorized("Missing API key: send it as 'Authorization: Bearer KEY'.");
        }
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) || !await keys.IsValidAsync(header[Scheme.Length..].Trim(), context.RequestAborted))
        {
            throw ApiException.Unauthorized("Incorrect API key provided.");
        }
        await next(context);
    }
}
