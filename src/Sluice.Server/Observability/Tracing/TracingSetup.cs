using System.Reflection;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Sluice.Server.Observability.Tracing;

/// <summary>The OpenTelemetry tracer provider: Sluice's spans and ASP.NET Core's request spans, exported over OTLP/HTTP.</summary>
internal static class TracingSetup
{
    /// <summary>ASP.NET Core's own source: its request span is the parent of Sluice's, and it continues the caller's traceparent.</summary>
    private const string AspNetCoreSource = "Microsoft.AspNetCore";

    public static TracerProvider CreateProvider(Uri endpoint, TimeSpan exportInterval)
    {
        string version = typeof(TracingSetup).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        return Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("sluice", serviceVersion: version))
            .AddSource(RequestTracer.SourceName, AspNetCoreSource)
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
