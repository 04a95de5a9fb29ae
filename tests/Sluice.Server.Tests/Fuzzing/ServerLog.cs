using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Sluice.Server.Tests.Fuzzing;

/// <summary>
/// Keeps what the server logs at warning and above (a 500's exception among them), by request id where the
/// entry names one, so a failure in the fuzz report shows the server's side of it.
/// </summary>
internal sealed class ServerLog : ILoggerProvider
{
    public sealed record Entry(LogLevel Level, string Category, string Message, string? RequestId, string? Exception);

    private const int MaxEntries = 2000;
    private readonly ConcurrentQueue<Entry> _entries = new();

    public IReadOnlyCollection<Entry> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <summary>The first entry about a request: its exception type, message and the first frames in Sluice code.</summary>
    public string? About(string requestId) =>
        _entries.FirstOrDefault(e => e.RequestId == requestId && e.Exception != null) is { } e ? e.Exception : null;

    public void Dispose()
    {
    }

    /// <summary>Exception type and message, then the first few stack frames in Sluice's code, on one line each.</summary>
    public static string Summarize(Exception ex)
    {
        var lines = new List<string>();
        for (var e = ex; e != null && lines.Count < 6; e = e.InnerException)
        {
            lines.Add($"{e.GetType().FullName}: {e.Message}");
            var frames = (e.StackTrace ?? "").Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            lines.AddRange(frames.Where(f => f.Contains("Sluice.", StringComparison.Ordinal)).Take(3));
            if (!frames.Any(f => f.Contains("Sluice.", StringComparison.Ordinal)))
            {
                lines.AddRange(frames.Take(2));
            }
        }
        return string.Join("\n", lines);
    }

    private sealed class Logger(ServerLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel) || owner._entries.Count >= MaxEntries)
            {
                return;
            }
            string? requestId = null;
            if (state is IReadOnlyList<KeyValuePair<string, object?>> values)
            {
                requestId = values.FirstOrDefault(kv => kv.Key == "RequestId").Value?.ToString();
            }
            owner._entries.Enqueue(new Entry(logLevel, category, formatter(state, exception), requestId, exception is null ? null : Summarize(exception)));
        }
    }
}
