using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Sluice.Hosting.Tracing;

/// <summary>The OpenTelemetry tracer provider: a host's own spans and ASP.NET Core's request spans, exported over OTLP/HTTP.</summary>
public static class TracingSetup
{
    /// <summary>ASP.NET Core's own source: its request span is the parent of Sluice's, and it continues the caller's traceparent.</summary>
    private const string AspNetCoreSource = "Microsoft.AspNetCore";

    /// <summary>Registers a tracer provider exporting <paramref name="sources"/> (and ASP.NET Core's spans) to <paramref name="endpoint"/>.</summary>
    public static IServiceCollection AddSluiceTracing(this IServiceCollection services, Uri endpoint, TimeSpan exportInterval, params string[] sources) =>
        services.AddSingleton(_ => CreateProvider(endpoint, exportInterval, sources));

    /// <summary>Starts the tracer provider registered by <see cref="AddSluiceTracing"/>, if any, so spans are listened to from now on.</summary>
    public static void StartSluiceTracing(this IServiceProvider services) => services.GetService<TracerProvider>();

    internal static TracerProvider CreateProvider(Uri endpoint, TimeSpan exportInterval, string[] sources)
    {
        string version = typeof(TracingSetup).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        return Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("sluice", serviceVersion: version))
            .AddSource([.. sources, AspNetCoreSource])
            .AddOtlpExporter(o =>
            {
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                o.Endpoint = TracesUri(endpoint);
                o.BatchExportProcessorOptions.ScheduledDelayMilliseconds = (int)Math.Max(1, exportInterval.TotalMilliseconds);
            })
            .Build();
    }

    /// <summary>http://collector:4318 → http://collector:4318/v1/traces; a URL with a path is used as given.</summary>
    public static Uri TracesUri(Uri endpoint) =>
        endpoint.AbsolutePath is "" or "/" ? new Uri(endpoint, "/v1/traces") : endpoint;
}
