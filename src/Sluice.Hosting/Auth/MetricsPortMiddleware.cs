using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Sluice.Hosting.Errors;

namespace Sluice.Hosting.Auth;

/// <summary>
/// On the --metrics-port listener (its connections are tagged when accepted), only /metrics and the probes are served,
/// without the key; every other path there is a 404, so the plain-HTTP port never exposes the API.
/// </summary>
internal sealed class MetricsPortMiddleware(RequestDelegate next, SluiceHostingOptions options)
{
    /// <summary>The connection item that marks a connection accepted on the metrics port.</summary>
    internal const string ConnectionTag = "sluice.metrics-port";

    /// <summary>The request item that lets <see cref="ApiKeyMiddleware"/> pass the request without a key.</summary>
    internal const string OpenItem = "sluice.open";

    private readonly HashSet<string> _paths = new(options.MetricsPortPaths.Select(p => p.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(ConnectionTag) == true)
        {
            string path = context.Request.Path.Value?.TrimEnd('/') ?? "";
            if (!_paths.Contains(path) || !(HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)))
            {
                throw ApiException.NotFound(path);
            }
            context.Items[OpenItem] = true;
        }
        return next(context);
    }
}
