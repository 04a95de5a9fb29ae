using Microsoft.Extensions.Logging;

namespace Sluice.Hosting.Logging;

/// <summary>How a Sluice host logs: one provider (readable lines by default, or JSON lines), its level, and ASP.NET Core's own chatter at warnings only.</summary>
public static class SluiceLogging
{
    /// <summary>
    /// Replaces the providers with <paramref name="providers"/> (null: one readable line per event on the console,
    /// timestamped), logs from <paramref name="level"/> up, keeps only warnings from Microsoft's categories and none from
    /// ASP.NET Core's per-request diagnostics.
    /// </summary>
    public static ILoggingBuilder UseSluiceLogging(this ILoggingBuilder logging, LogLevel level, Action<ILoggingBuilder>? providers = null)
    {
        logging.ClearProviders();
        if (providers is null)
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-dd HH:mm:ss ";
            });
        }
        else
        {
            providers(logging);
        }
        logging.SetMinimumLevel(level);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        // ASP.NET Core's per-request diagnostics logger: while it is enabled at any level, the host starts an Activity and a
        // log scope for every request (and HttpClient then stamps traceparent on every call the gateway forwards), though
        // it only ever logs at Information (request started, finished), which the filter above drops anyway. Off, a request
        // costs less; OpenTelemetry tracing (--otlp-traces-endpoint) listens to the Activities itself and still gets them.
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        return logging;
    }

    /// <summary>Adds the JSON-lines provider (<c>--log-format json</c>): one object per event on <paramref name="output"/>.</summary>
    public static ILoggingBuilder AddJsonLines(this ILoggingBuilder logging, TextWriter output, TimeProvider time)
    {
        logging.AddProvider(new JsonLineLoggerProvider(output, time));
        return logging;
    }
}
