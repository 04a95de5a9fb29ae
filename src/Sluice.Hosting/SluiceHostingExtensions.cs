using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sluice.Hosting.Auth;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Lifetime;
using Sluice.Hosting.Requests;
using Sluice.Hosting.Tls;

namespace Sluice.Hosting;

/// <summary>
/// Puts the shared hosting layer on an ASP.NET Core app, as YARP's <c>AddReverseProxy()</c>/<c>MapReverseProxy()</c> do:
/// <see cref="AddSluiceHosting"/> registers its services and the Kestrel listener, <see cref="UseSluiceHosting"/> puts
/// its middleware in front of the routes.
/// </summary>
public static class SluiceHostingExtensions
{
    /// <summary>
    /// The host's own arguments for <c>WebApplicationOptions.Args</c>: appsettings.json (if the working directory has one)
    /// is read once, not watched. ASP.NET's default watches it with a FileSystemWatcher on the content root, which on
    /// Linux is a recursive inotify watch of the working directory: a process started in /tmp or a source tree being built
    /// spends CPU on every file written anywhere below it, and holds an inotify watch per folder from a limit shared by all
    /// the user's processes.
    /// </summary>
    public static readonly string[] HostArgs = ["--hostBuilder:reloadConfigOnChange=false"];

    /// <summary>
    /// Registers the options, the clock, the API key store (<see cref="FileApiKeyStore"/> unless the host registered its
    /// own <see cref="IApiKeyStore"/> first), the certificate reloader when TLS is on, Kestrel listening on
    /// <see cref="SluiceHostingOptions.Host"/>:<see cref="SluiceHostingOptions.Port"/>, and drain on SIGTERM (when the host
    /// registers an <see cref="IDrainTarget"/>), with the host's shutdown timeout past the drain.
    /// </summary>
    public static IServiceCollection AddSluiceHosting(this IServiceCollection services, SluiceHostingOptions options)
    {
        if ((options.SslCertFile is null) != (options.SslKeyFile is null))
        {
            throw new ArgumentException("TLS needs both --ssl-certfile and --ssl-keyfile");
        }
        services.AddSingleton(options);
        services.TryAddSingleton(options.Time);
        services.TryAddSingleton<IApiKeyStore>(sp => new FileApiKeyStore(options.ApiKeys, options.ApiKeyFile, options.ApiKeyGracePeriod, options.Time,
            sp.GetRequiredService<ILogger<FileApiKeyStore>>()));
        if (options.SslCertFile is { } cert && options.SslKeyFile is { } key)
        {
            services.AddSingleton(sp => new CertificateReloader(cert, key, options.Time, sp.GetRequiredService<ILogger<CertificateReloader>>()));
        }
        services.Configure<KestrelServerOptions>(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = null; // JsonBody enforces --max-request-body-size, answering 413 cleanly
            Listen(k, options, k.ApplicationServices.GetService<CertificateReloader>());
        });
        if (options.InlineScheduling)
        {
            services.Configure<SocketTransportOptions>(o => o.UnsafePreferInlineScheduling = true);
        }
        services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout + TimeSpan.FromSeconds(15));
        services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        services.AddHostedService<DrainService>();
        return services;
    }

    /// <summary>
    /// Loads the key store and the certificate now (a missing key file or a bad certificate stops the start, not the
    /// first request), then adds, in order: request ids, OpenAI-shaped errors, routing, and the API key check.
    /// Map the routes after this.
    /// </summary>
    public static WebApplication UseSluiceHosting(this WebApplication app)
    {
        app.Services.GetRequiredService<IApiKeyStore>();
        app.Services.GetService<CertificateReloader>();
        app.UseMiddleware<RequestInfo>();
        app.UseMiddleware<ErrorMiddleware>();
        app.UseRouting();
        if (app.Services.GetRequiredService<SluiceHostingOptions>().MetricsPort is not null)
        {
            app.UseMiddleware<MetricsPortMiddleware>();
        }
        app.UseMiddleware<ApiKeyMiddleware>();
        return app;
    }

    private static void Listen(KestrelServerOptions kestrel, SluiceHostingOptions options, CertificateReloader? certificates)
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
        if (options.MetricsPort is { } metricsPort)
        {
            foreach (var address in addresses)
            {
                // plain HTTP, tagged so MetricsPortMiddleware knows its requests whatever port was picked
                kestrel.Listen(address, metricsPort, listen => listen.Use(next => connection =>
                {
                    connection.Items[MetricsPortMiddleware.ConnectionTag] = true;
                    return next(connection);
                }));
            }
        }
    }
}
