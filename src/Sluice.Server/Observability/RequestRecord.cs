using Sluice.Hosting.Errors;
using Sluice.Hosting.Tracing;

namespace Sluice.Server.Observability;

/// <summary>
/// One finished HTTP request as the metrics, logs and traces see it: who, what, how it ended, and where its
/// time went. Published once per request through <see cref="ServerTelemetry.RequestCompleted"/>.
/// Times are null where the request never reached that phase.
/// </summary>
public sealed record RequestRecord
{
    public required string RequestId { get; init; }

    /// <summary>The route template, e.g. "/v1/chat/completions" (bounded: never a raw path).</summary>
    public required string Route { get; init; }

    public string? Model { get; init; }
    public bool Stream { get; init; }
    public int StatusCode { get; init; }
    public RequestOutcome Outcome { get; init; }

    /// <summary>Set when <see cref="Outcome"/> is Rejected, TimedOut or Cancelled.</summary>
    public AdmissionRejection? Rejection { get; init; }

    /// <summary>finish_reason of each choice ("stop", "length", "abort", "error").</summary>
    public IReadOnlyList<string> FinishReasons { get; init; } = [];

    public int PromptTokens { get; init; }
    public int CachedPromptTokens { get; init; }
    public int CompletionTokens { get; init; }

    /// <summary>From the HTTP request's arrival to its submission to the engine; null when it never reached the engine.</summary>
    public TimeSpan? EngineArrival { get; init; }

    /// <summary>Arrival at the engine to first scheduled.</summary>
    public TimeSpan? QueueTime { get; init; }

    /// <summary>First scheduled to first token (the prompt's prefill).</summary>
    public TimeSpan? PrefillTime { get; init; }

    /// <summary>First token to last token.</summary>
    public TimeSpan? DecodeTime { get; init; }

    /// <summary>Engine arrival to first token.</summary>
    public TimeSpan? TimeToFirstToken { get; init; }

    /// <summary>Gaps between consecutive tokens of each sequence, in seconds.</summary>
    public IReadOnlyList<double> InterTokenLatencies { get; init; } = [];

    /// <summary>The HTTP request's whole duration, body reading and response writing included.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>The error message when the request was rejected or failed.</summary>
    public string? Error { get; init; }

    /// <summary>The CPU-side stages the request went through (body read, JSON parse, template, tokenize, detokenize, writes), each summed.</summary>
    public IReadOnlyList<StageTiming> Stages { get; init; } = [];
}
