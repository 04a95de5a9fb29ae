using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sluice.Engine.Models;
using Sluice.Engine.Serving;
using Sluice.Hosting;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Lifetime;
using Sluice.Hosting.Logging;
using Sluice.Server.Admission;
using Sluice.Server.Hosting;
using Sluice.Server.Observability;

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
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = SluiceHostingExtensions.HostArgs, ApplicationName = "sluice" });
        builder.Logging.UseSluiceLogging(options.LogLevel, hooks?.Logging);

        var s = builder.Services;
        s.AddSluiceHosting(options.Hosting());
        s.AddSingleton(options);
        s.AddSingleton(sp => new ModelHost(loadModel, engineOptions, options, sp.GetRequiredService<ILogger<ModelHost>>()));
        s.AddSingleton(new AdmissionController(engineOptions.MaxNumSeqs, options.MaxNumQueuedReqs, options.MaxNumQueuedTokens, options.Time));
        s.AddSingleton<ServerTelemetry>();
        s.AddSingleton<ServingContext>();
        s.AddSingleton<IDrainTarget, ServerDrain>();
        s.AddSingleton<IRequestErrorObserver, RejectionRecords>();
        Routes.RouteTable.AddServices(s);
        hooks?.Services?.Invoke(s);

        var app = builder.Build();
        app.UseSluiceHosting();
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
