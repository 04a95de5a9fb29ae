using Sluice.Engine.Sampling.Grammars;
using Sluice.Engine.Serving;
using Sluice.Hosting.Errors;
using Sluice.Server.Admission;
using Sluice.Server.Observability;

namespace Sluice.Server.Hosting;

/// <summary>What every route needs: the model, the admission queue, the telemetry, the options and the clock.</summary>
public sealed class ServingContext : IDisposable
{
    private readonly CancellationTokenSource _abortAll = new();

    public ServingContext(ModelHost host, AdmissionController admission, ServerTelemetry telemetry, ServerOptions options)
    {
        Host = host;
        Admission = admission;
        Telemetry = telemetry;
        Options = options;
        Started = options.Time.GetUtcNow();
    }

    public ModelHost Host { get; }
    public AdmissionController Admission { get; }
    public ServerTelemetry Telemetry { get; }
    public ServerOptions Options { get; }
    public TimeProvider Time => Options.Time;
    public DateTimeOffset Started { get; }

    /// <summary>Structured-output grammars compiled so far, shared by requests with the same schema.</summary>
    public GrammarCache Grammars { get; } = new();

    /// <summary>Cancelled when shutdown gives up waiting for in-flight requests.</summary>
    public CancellationToken AbortAll => _abortAll.Token;

    internal void CancelInFlight() => _abortAll.Cancel();

    /// <summary>The engine, or a 503 naming why there is none ready.</summary>
    public LlmEngine RequireReady()
    {
        var state = Host.State;
        if (state == ServerState.Draining || state == ServerState.Stopped)
        {
            throw ApiException.Unavailable("The server is shutting down; send the request to another replica.", AdmissionRejection.Draining);
        }
        if (state != ServerState.Ready || Host.Engine is not { } engine)
        {
            throw ApiException.Unavailable(state == ServerState.Failed
                ? $"The model failed to load: {Host.Failure}"
                : $"The model is not ready yet ({state.ToString().ToLowerInvariant()}).", AdmissionRejection.NotReady);
        }
        return engine;
    }

    /// <summary>The served name a request's <c>model</c> resolves to; omitted resolves to the model, unknown is a 404.</summary>
    public string ResolveModel(string? requested)
    {
        if (string.IsNullOrEmpty(requested))
        {
            return Host.Name;
        }
        foreach (var name in Host.Names)
        {
            if (string.Equals(name, requested, StringComparison.Ordinal))
            {
                return name;
            }
        }
        throw ApiException.ModelNotFound(requested);
    }

    public void Dispose() => _abortAll.Dispose();
}
