using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Sluice.Server;

/// <summary>
/// Extension points for what is built on the server (metrics, structured logs, traces): they see the same
/// container, and their routes sit behind the same request id, error handling and API key check as the rest.
/// </summary>
public sealed record ServerHooks
{
    /// <summary>Replaces the default single-line console logging.</summary>
    public Action<ILoggingBuilder>? Logging { get; init; }

    /// <summary>Adds services; the server's own (ServingContext, ServerTelemetry, ...) can be injected into them.</summary>
    public Action<IServiceCollection>? Services { get; init; }

    /// <summary>Maps further routes, e.g. GET /metrics.</summary>
    public Action<IEndpointRouteBuilder>? Routes { get; init; }
}
