using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sluice.Gateway.Caching;
using Sluice.Gateway.Configuration;
using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Health;
using Sluice.Gateway.Management;
using Sluice.Gateway.Observability;
using Sluice.Gateway.Rollouts;
using Sluice.Gateway.Routing;
using Sluice.Gateway.Tenancy;
using Sluice.Gateway.Tenancy.Spend;
using Sluice.Hosting;
using Sluice.Hosting.Auth;
using Sluice.Hosting.Lifetime;
using Sluice.Hosting.Logging;
using Sluice.Hosting.Metrics.Exposition;
using Sluice.Hosting.Requests;

namespace Sluice.Gateway;

/// <summary>
/// `sluice gateway`: an ASP.NET Core app on the shared hosting layer (keys, TLS, request ids, errors, drain, logs) that
/// routes OpenAI requests to backends through YARP's forwarder. The first configuration must validate or the start
/// fails; later ones are reloaded from the watched file.
/// </summary>
public sealed partial class SluiceGateway : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SluiceGateway(WebApplication app)
    {
        _app = app;
    }

    public IServiceProvider Services => _app.Services;

    public Router Router => _app.Services.GetRequiredService<Router>();

    public GatewayMetrics Metrics => _app.Services.GetRequiredService<GatewayMetrics>();

    /// <summary>The bound addresses (real ports, also with port 0), once started.</summary>
    public IReadOnlyList<Uri> Addresses =>
        [.. _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a))];

    /// <summary>Reads and validates the config file (a <see cref="GatewayConfigException"/> names the field) and builds the app.</summary>
    public static SluiceGateway Create(GatewayOptions options, Action<ILoggingBuilder>? logging = null)
    {
        var config = GatewayConfigReader.ReadFile(options.ConfigPath);
        options = options with { MasterKey = options.MasterKey ?? config.MasterKey };
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = SluiceHostingExtensions.HostArgs, ApplicationName = "sluice-gateway" });
        builder.Logging.UseSluiceLogging(options.LogLevel, logging);
        var s = builder.Services;
        var hosting = options.Hosting;
        s.AddSingleton(sp => new FileApiKeyStore(hosting.ApiKeys, hosting.ApiKeyFile, hosting.ApiKeyGracePeriod, hosting.Time,
            sp.GetRequiredService<ILogger<FileApiKeyStore>>()));
        s.AddSingleton<IApiKeyStore>(sp => new GatewayKeyStore(sp.GetRequiredService<FileApiKeyStore>(), options.MasterKey, config.Tenancy is not null));
        if (config.Tenancy is { } tenancy)
        {
            s.AddTenancy(tenancy, Path.GetDirectoryName(Path.GetFullPath(options.ConfigPath))!);
        }
        s.AddSluiceHosting(hosting);
        s.AddSingleton(options);
        s.AddSingleton(sp => new Router(hosting.Time));
        s.AddSingleton<GatewayMetrics>();
        s.AddSingleton(sp => new CanaryController(sp.GetRequiredService<Router>(), sp.GetRequiredService<GatewayMetrics>(), hosting.Time,
            sp.GetRequiredService<ILogger<CanaryController>>()));
        s.AddSingleton<GatewayDrain>();
        s.AddSingleton<IDrainTarget>(sp => sp.GetRequiredService<GatewayDrain>());
        s.AddSingleton(sp => new UsageRecorder(sp.GetRequiredService<GatewayMetrics>(), hosting.Time, sp.GetRequiredService<ILogger<UsageRecorder>>()));
        s.AddSingleton<SpendService>();
        s.AddSingleton(sp => new ResponseCache(config.Cache,
            config.Cache?.Redis is { } redis && redis == config.Tenancy?.Redis ? sp.GetRequiredService<TenancyRedis>() : null,
            sp.GetRequiredService<GatewayMetrics>(), sp.GetRequiredService<UsageRecorder>(), hosting.Time, sp.GetRequiredService<ILogger<ResponseCache>>()));
        s.AddSingleton<BudgetGuard>();
        s.AddSingleton<Sluice.Gateway.Tenancy.ISpendReader, KeySpendReader>();
        s.AddHostedService(sp => sp.GetRequiredService<SpendService>());
        s.AddSingleton<SpendEndpoints>();
        s.AddSingleton<BackendInvoker>();
        s.AddSingleton<CompletionProxy>();
        s.AddSingleton<ModelsEndpoint>();
        s.AddSingleton<AdminEndpoints>();
        s.AddSingleton<KeyEndpoints>();
        s.AddSingleton<TeamEndpoints>();
        s.AddSingleton<ConfigWatcher>();
        s.AddHostedService(sp => sp.GetRequiredService<ConfigWatcher>());
        s.AddSingleton<ActiveHealthChecker>();
        s.AddHostedService<LoadScraper>();
        s.AddHostedService(sp => sp.GetRequiredService<ActiveHealthChecker>());
        s.AddHttpForwarder();

        var app = builder.Build();
        var router = app.Services.GetRequiredService<Router>();
        var log = app.Services.GetRequiredService<ILogger<SluiceGateway>>();
        app.Services.GetRequiredService<CanaryController>(); // follows the configurations applied from here on
        router.Changed += change => LogChange(log, change.Source, change.Actor, change.Model ?? "-", change.Action,
            Describe(change.Before), Describe(change.After), change.Detail);
        router.Apply(config, "file", "file:" + options.ConfigPath);
        app.Services.GetRequiredService<ConfigWatcher>().Started = (config.Tenancy, config.MasterKey, config.Cache);

        StampAddedLatency(app, hosting.Time);
        app.UseSluiceHosting();
        if (config.Tenancy is not null)
        {
            app.UseTenancy();
        }
        app.Services.GetRequiredService<ResponseCache>(); // connects to its Redis now, not on the first request
        var proxy = app.Services.GetRequiredService<CompletionProxy>();
        app.MapPost("/v1/completions", proxy.HandleAsync);
        app.MapPost("/v1/chat/completions", proxy.HandleAsync);
        app.MapGet("/v1/models", app.Services.GetRequiredService<ModelsEndpoint>().HandleAsync);
        var metrics = app.Services.GetRequiredService<GatewayMetrics>();
        app.MapGet("/metrics", async context =>
        {
            context.Response.ContentType = MetricRegistry.ContentType;
            await context.Response.WriteAsync(metrics.Registry.Render());
        });
        var drain = app.Services.GetRequiredService<GatewayDrain>();
        app.MapGet("/health/live", () => Results.Text("ok"));
        app.MapGet("/health/ready", () => drain.Draining ? Results.Text("draining", statusCode: 503) : Results.Text("ok"));
        app.MapGet("/health", () => drain.Draining ? Results.Text("draining", statusCode: 503) : Results.Text("ok"));
        app.Services.GetRequiredService<AdminEndpoints>().Map(app);
        app.Services.GetRequiredService<KeyEndpoints>().Map(app);
        app.Services.GetRequiredService<TeamEndpoints>().Map(app);
        app.Services.GetRequiredService<SpendEndpoints>().Map(app);
        return new SluiceGateway(app);
    }

    /// <summary>
    /// Answers the gateway makes itself (errors, /v1/models, admin) carry the added-latency header too: all their time is
    /// the gateway's, from the arrival <see cref="RequestInfo"/> notes. Proxied answers set it first, less the backend's part
    /// (<see cref="AttemptTransformer"/>).
    /// </summary>
    private static void StampAddedLatency(WebApplication app, TimeProvider time)
    {
        // one callback for all requests, its state the request: nothing allocated per request but the registration
        Func<object, Task> stamp = state =>
        {
            var context = (HttpContext)state;
            if (!context.Response.Headers.ContainsKey(AttemptTransformer.AddedLatencyHeader) && RequestInfo.Start(context) is not 0)
            {
                context.Response.Headers[AttemptTransformer.AddedLatencyHeader] =
                    time.GetElapsedTime(RequestInfo.Start(context)).TotalMilliseconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
            }
            return Task.CompletedTask;
        };
        app.Use(next => context =>
        {
            context.Response.OnStarting(stamp, context);
            return next(context);
        });
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => _app.StartAsync(cancellationToken);

    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    public Task StopAsync() => _app.StopAsync();

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static string Describe(IReadOnlyDictionary<string, int>? traffic) =>
        traffic is null ? "-" : string.Join(" ", traffic.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}%"));

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Routing change by {Source} ({Actor}): {Model} {Action}: {Before} -> {After} {Detail}")]
    private static partial void LogChange(ILogger log, string source, string actor, string model, string action, string before, string after, string detail);
}
