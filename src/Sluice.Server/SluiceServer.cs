using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sluice.Engine.Models;
using Sluice.Engine.Serving;
using Sluice.Server.Admission;
using Sluice.Server.Auth;
using Sluice.Server.Hosting;
using Sluice.Server.Observability;
using Sluice.Server.Tls;

namespace Sluice.Server;

/// <summary>
/// `sluice serve`: an OpenAI-compatible HTTP server over one <see cref="LlmEngine"/>. Start it, and the
/// listener is up at once (probes answer 503) while the model loads and warms up in the background.
/// Stopping it (or SIGTERM) drains in-flight requests first.
/// </summary>
public sealed class SluiceServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private Task _loading = Task.CompletedTask;

    private SluiceServer(WebApplication app)
    {
        _app = app;
        Serving = app.Services.GetRequiredService<ServingContext>();
    }

    public ServingContext Serving { get; }
    public ModelHost Host => Serving.Host;
    public ServerTelemetry Telemetry => Serving.Telemetry;

    /// <summary>Services, for components added later (metrics, tracing) that hang on the same container.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The bound addresses (real ports, also with --port 0), once started.</summary>
    public IReadOnlyList<Uri> Addresses =>
        [.. _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a))];

    /// <param name="loadModel">Loads the model; runs in the background after the listener is up.</param>
    /// <param name="hooks">Logging, services and routes added by what builds on the server.</param>
    public static SluiceServer Create(ServerOptions options, EngineOptions engineOptions, Func<LoadedModel> loadModel, ServerHooks? hooks = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = "sluice" });
        builder.Logging.ClearProviders();
        if (hooks?.Logging is not { } configureLogging)
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-dd HH:mm:ss ";
            });
        }
        else
        {
            configureLogging(builder.Logging);
        }
        builder.Logging.SetMinimumLevel(options.LogLevel);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout + TimeSpan.FromSeconds(15));
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);

        var time = options.Time;
        if ((options.SslCertFile is null) != (options.SslKeyFile is null))
        {
            throw new ArgumentException("TLS needs both --ssl-certfile and --ssl-keyfile");
        }
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = null; // JsonBody enforces --max-request-body-size, answering 413 cleanly
            Listen(k, options, k.ApplicationServices.GetService<CertificateReloader>());
        });

        var s = builder.Services;
        s.AddSingleton(options);
        s.AddSingleton(time);
        s.AddSingleton(sp => new ApiKeyStore(options.ApiKeys, options.ApiKeyFile, options.ApiKeyGracePeriod, time, sp.GetRequiredService<ILogger<ApiKeyStore>>()));
        if (options.SslCertFile is { } cert && options.SslKeyFile is { } key)
        {
            s.AddSingleton(sp => new CertificateReloader(cert, key, time, sp.GetRequiredService<ILogger<CertificateReloader>>()));
        }
        s.AddSingleton(sp => new ModelHost(loadModel, engineOptions, options, sp.GetRequiredService<ILogger<ModelHost>>()));
        s.AddSingleton(new AdmissionController(engineOptions.MaxNumSeqs, options.MaxNumQueuedReqs, options.MaxNumQueuedTokens, time));
        s.AddSingleton<ServerTelemetry>();
        s.AddSingleton<ServingContext>();
        s.AddHostedService<DrainService>();
        Routes.RouteTable.AddServices(s);
        hooks?.Services?.Invoke(s);

        var app = builder.Build();
        // a missing key file or a bad certificate stops the server here, not at the first request
        app.Services.GetRequiredService<ApiKeyStore>();
        app.Services.GetService<CertificateReloader>();
        app.UseMiddleware<RequestInfo>();
        app.UseMiddleware<ErrorMiddleware>();
        app.UseRouting();
        app.UseMiddleware<ApiKeyMiddleware>();
        Routes.RouteTable.Map(app);
        hooks?.Routes?.Invoke(app);
        return new SluiceServer(app);
    }

    /// <summary>Starts listening, then loads the model in the background (see <see cref="ModelHost.Settled"/>).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _app.StartAsync(cancellationToken);
        _loading = Host.LoadAsync(_app.Lifetime.ApplicationStopping);
    }

    /// <summary>Completes when the host shuts down (SIGTERM, Ctrl+C, or <see cref="StopAsync"/>), after draining.</summary>
    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    /// <summary>Drains in-flight requests (up to --shutdown-timeout) and stops listening.</summary>
    public Task StopAsync() => _app.StopAsync();

    private static void Listen(KestrelServerOptions kestrel, ServerOptions options, CertificateReloader? certificates)
    {
        void Configure(ListenOptions listen)
        {
            if (certificates is not null)
            {
                listen.UseHttps(new HttpsConnectionAdapterOptions { ServerCertificateSelector = (_, _) => certificates.Current });
            }
        }
        string host = options.Host.Trim('[', ']');
        IPAddress[] addresses = host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? [IPAddress.Loopback]
            : IPAddress.TryParse(host, out var ip) ? [ip]
            : Dns.GetHostAddresses(host);
        foreach (var address in addresses)
        {
            kestrel.Listen(address, options.Port, Configure);
        }
    }

    /// <summary>Stops (if still running) and releases the engine, the model and the listener.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _loading;
        }
        catch (OperationCanceledException)
        {
        }
        // the container owns the model host (engine, model) and the serving context
        await _app.DisposeAsync();
    }
}
