using Microsoft.Extensions.Logging;
using Sluice.Server.Observability;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Observability;

/// <summary>The readable log's lines runbooks grep for: "model loading/loaded/ready/failed" with the name, error= only on errors.</summary>
public sealed class LogLineTests
{
    private sealed class Capture : ILoggerProvider, ILogger
    {
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lines)
                {
                    return [.. _lines];
                }
            }
        }

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines)
            {
                _lines.Add(formatter(state, exception));
            }
        }

        public void Dispose()
        {
        }
    }

    [Fact]
    public async Task ModelLoad_LogsLoadingLoadedAndReadyWithTheName()
    {
        var capture = new Capture();
        var hooks = SluiceObservability.Hooks(new ObservabilityOptions()) with { Logging = b => b.AddProvider(capture) };
        await using (var t = await TestServer.StartAsync(new ServerOptions { ServedModelNames = ["tiny-test"] }, hooks: hooks))
        {
            Assert.Equal(200, (await t.PostJsonAsync("/v1/completions", """{"prompt": "hi", "max_tokens": 2}""")).Status);
            Assert.Equal(400, (await t.PostJsonAsync("/v1/completions", """{"prompt": "hi", "temperature": "hot"}""")).Status);
        }
        var lines = capture.Lines;
        Assert.Contains("model loading: tiny-test", lines);
        Assert.Contains(lines, l => l.StartsWith("model loaded: tiny-test (", StringComparison.Ordinal));
        Assert.Contains("model ready: tiny-test", lines);
        var requests = lines.Where(l => l.StartsWith("Request ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, requests.Count);
        Assert.Single(requests, l => l.Contains("error", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(requests, l => l.Contains(" 400 ", StringComparison.Ordinal) && l.Contains("error=", StringComparison.Ordinal) && l.Contains("temperature", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ModelLoadFailure_LogsModelFailedWithTheNameAndReason()
    {
        var capture = new Capture();
        var hooks = new ServerHooks { Logging = b => b.AddProvider(capture) };
        await using (var t = await TestServer.StartAsync(new ServerOptions { ModelPath = "/models/broken.gguf" }, load: () => throw new InvalidDataException("bad magic"),
            waitReady: false, hooks: hooks))
        {
            await t.Server.Host.Settled.WaitAsync(TimeSpan.FromSeconds(30));
        }
        Assert.Contains("model loading: /models/broken.gguf", capture.Lines);
        Assert.Contains("model failed: /models/broken.gguf: bad magic", capture.Lines);
    }
}
