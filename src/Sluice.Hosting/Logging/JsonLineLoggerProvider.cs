using Microsoft.Extensions.Logging;

namespace Sluice.Hosting.Logging;

/// <summary>Writes every log event as one JSON object on one line (see <see cref="JsonLineFormatter"/>).</summary>
public sealed class JsonLineLoggerProvider(TextWriter output, TimeProvider time) : ILoggerProvider
{
    private readonly object _writeLock = new();

    public ILogger CreateLogger(string categoryName) => new JsonLineLogger(this, categoryName);

    internal void Write(string line)
    {
        lock (_writeLock)
        {
            output.Write(line);
            output.Write('\n');
            output.Flush();
        }
    }

    internal DateTimeOffset Now => time.GetUtcNow();

    public void Dispose()
    {
    }

    private sealed class JsonLineLogger(JsonLineLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            owner.Write(JsonLineFormatter.Format(owner.Now, logLevel, category, eventId, formatter(state, exception),
                state as IReadOnlyList<KeyValuePair<string, object?>>, exception));
        }
    }
}
