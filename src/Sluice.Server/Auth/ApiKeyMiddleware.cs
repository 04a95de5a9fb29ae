using Microsoft.AspNetCore.Http;
using Sluice.Server.OpenAi;

namespace Sluice.Server.Auth;

/// <summary>
/// With any key configured, every route needs <c>Authorization: Bearer KEY</c> except the open paths
/// (by default the health probes), so /metrics, /admin/* and /debug/* are never left open by accident.
/// </summary>
internal sealed class ApiKeyMiddleware(RequestDelegate next, ApiKeyStore keys, ServerOptions options)
{
    private readonly HashSet<string> _open = new(options.OpenPaths.Select(p => p.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);

    public Task InvokeAsync(HttpContext context)
    {
        if (!keys.Enabled || _open.Contains(context.Request.Path.Value?.TrimEnd('/') ?? ""))
        {
            return next(context);
        }
        string? header = context.Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            throw ApiException.Unauthorized("Missing API key: send it as 'Authorization: Bearer KEY'.");
        }
        const string Scheme = "Bearer ";
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) || !keys.IsValid(header[Scheme.Length..].Trim()))
        {
            throw ApiException.Unauthorized("Incorrect API key provided.");
        }
        return next(context);
    }
}
