using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Sluice.Hosting.Errors;
using Sluice.Server.Generation;
using Sluice.Server.Health;
using Sluice.Server.Hosting;

namespace Sluice.Server.Routes;

/// <summary>Every route the server answers, in one place.</summary>
internal static class RouteTable
{
    public static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<GenerationFlow>();
        services.AddSingleton<ModelsEndpoint>();
        services.AddSingleton<TokenizerEndpoints>();
        services.AddSingleton<AdminEndpoints>();
        services.AddSingleton<HealthEndpoints>();
    }

    public static void Map(WebApplication app)
    {
        T Get<T>()
            where T : notnull => app.Services.GetRequiredService<T>();
        var known = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        void Post(string path, RequestDelegate handler)
        {
            app.MapPost(path, handler);
            known.Add(path);
        }
        void MapGet(string path, RequestDelegate handler)
        {
            app.MapGet(path, handler);
            known.Add(path);
        }

        MapGet("/v1/models", Get<ModelsEndpoint>().HandleAsync);
        MapGet("/v1/models/{**id}", Get<ModelsEndpoint>().OneAsync);
        GenerationRoutes.Map(Post, Get<ServingContext>(), Get<GenerationFlow>());
        Post("/tokenize", Get<TokenizerEndpoints>().TokenizeAsync);
        Post("/detokenize", Get<TokenizerEndpoints>().DetokenizeAsync);
        Post("/admin/warmup", Get<AdminEndpoints>().WarmupAsync);
        MapGet("/version", Get<AdminEndpoints>().VersionAsync);
        Post("/admin/reset-prefix-cache", Get<AdminEndpoints>().ResetPrefixCacheAsync);
        Post("/reset_prefix_cache", Get<AdminEndpoints>().ResetPrefixCacheAsync); // vLLM's name

        var health = Get<HealthEndpoints>();
        MapGet("/health", health.HealthAsync);
        foreach (var path in new[] { "/health/live", "/health/liveness" })
        {
            MapGet(path, health.LiveAsync);
        }
        foreach (var path in new[] { "/health/ready", "/health/readiness" })
        {
            MapGet(path, health.ReadyAsync);
        }

        app.MapFallback(http =>
        {
            string path = http.Request.Path.Value?.TrimEnd('/') ?? "";
            throw known.Contains(path) ? ApiException.MethodNotAllowed(http.Request.Method, path) : ApiException.NotFound(path);
        });
    }
}
