using Microsoft.Extensions.Logging.Abstractions;
using Sluice.Engine.Serving;
using Sluice.Server.Admission;
using Sluice.Server.Hosting;
using Sluice.Server.Metrics;
using Sluice.Server.Observability;

namespace Sluice.Server.Tests.Metrics;

/// <summary>A <see cref="ServerMetrics"/> over a server that is never started: enough to read the registered families.</summary>
internal static class OfflineMetrics
{
    public static ServerMetrics Create(MetricsOptions options, Sluice.Hosting.Tls.CertificateReloader? certificates = null)
    {
        var server = new ServerOptions();
        var host = new ModelHost(() => throw new InvalidOperationException("not loaded in this test"), new EngineOptions(), server, NullLogger<ModelHost>.Instance);
        var serving = new ServingContext(host, new AdmissionController(4, 4, null, TimeProvider.System), new ServerTelemetry(), server);
        return new ServerMetrics(serving, options, certificates);
    }
}
