using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Sluice.Gateway.Tenancy.Auth;
using Sluice.Gateway.Tenancy.Keys;
using Sluice.Gateway.Tenancy.Limits;
using Sluice.Gateway.Tenancy.Spend;
using Sluice.Gateway.Tenancy.Storage;
using Sluice.Gateway.Tenancy.Teams;

namespace Sluice.Gateway.Tenancy;

/// <summary>Tenancy on a gateway app: <see cref="AddTenancy"/> opens the stores, <see cref="UseTenancy"/> puts key authentication before the routes.</summary>
public static class TenancyExtensions
{
    /// <summary>
    /// Opens the database (a relative SQLite path is taken from <paramref name="configFolder"/>) and migrates it now, so a
    /// corrupt file or an unreachable server stops the start with a <see cref="TenancyStoreException"/> naming it; connects
    /// to Redis (without waiting for it) when configured.
    /// </summary>
    public static IServiceCollection AddTenancy(this IServiceCollection services, TenancySettings settings, string configFolder)
    {
        string location = settings.Database;
        bool postgres = location.Contains("://", StringComparison.Ordinal) || location.Contains("Host=", StringComparison.OrdinalIgnoreCase)
            || location.Contains("Server=", StringComparison.OrdinalIgnoreCase);
        if (!postgres)
        {
            string path = location.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase) ? location["sqlite:".Length..] : location;
            location = Path.IsPathRooted(path) ? path : Path.Combine(configFolder, path);
        }
        var database = TenancyDatabase.Open(location);
        var keys = new KeyStore(database, TimeProvider.System);
        keys.MigrateAsync().GetAwaiter().GetResult();
        new TeamStore(database, TimeProvider.System).MigrateAsync().GetAwaiter().GetResult();
        services.AddSingleton(settings);
        services.AddSingleton(database);
        services.AddSingleton(sp => new KeyStore(database, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<TenancyFailures>();
        services.AddSingleton<KeyCache>();
        services.AddSingleton(sp => new TeamStore(database, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<TeamCache>();
        services.AddSingleton<TeamBudgetGuard>();
        services.AddSingleton<KeyChangeListener>();
        services.AddHostedService(sp => sp.GetRequiredService<KeyChangeListener>());
        services.TryAddSingleton<ISpendReader, NoSpendReader>();
        if (settings.Redis is { } redis)
        {
            services.AddSingleton(TenancyRedis.Connect(redis));
            services.AddSingleton<RedisRequestLimiter>();
            services.AddSingleton<IRequestLimiter>(sp => sp.GetRequiredService<RedisRequestLimiter>());
            services.AddHostedService(sp => sp.GetRequiredService<RedisRequestLimiter>());
            services.AddSingleton<RedisBudgetCounters>();
            services.AddSingleton<IBudgetCounters>(sp => sp.GetRequiredService<RedisBudgetCounters>());
            services.AddHostedService(sp => sp.GetRequiredService<RedisBudgetCounters>());
            services.AddSingleton<ITokenLimiter, RedisTokenLimiter>();
        }
        else
        {
            services.AddSingleton<IRequestLimiter, LocalRequestLimiter>();
            services.AddSingleton<IBudgetCounters>(sp => new MemoryBudgetCounters(sp.GetRequiredService<TimeProvider>()));
            services.AddSingleton<ITokenLimiter, LocalTokenLimiter>();
        }
        return services;
    }

    /// <summary>Key authentication and limits, after the hosting layer's middleware (errors, request ids, routing) and before the routes.</summary>
    public static WebApplication UseTenancy(this WebApplication app)
    {
        app.UseMiddleware<KeyAuthentication>();
        return app;
    }
}
