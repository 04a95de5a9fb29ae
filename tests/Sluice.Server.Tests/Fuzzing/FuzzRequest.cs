namespace Sluice.Server.Tests.Fuzzing;

/// <summary>What the fuzzer needs to know of the server it aims at.</summary>
internal sealed record FuzzTarget(string Model, int MaxModelLen, int MaxNumSeqs, int MaxNumQueuedReqs, int VocabSize, long MaxRequestBodySize);

/// <summary>How (and whether) the client walks away from a request.</summary>
internal enum CancelKind
{
    None,

    /// <summary>Abort after <see cref="CancelPlan.Value"/> ms, wherever the request is then (sending, queued, mid-answer).</summary>
    AfterMs,

    /// <summary>Abort after reading <see cref="CancelPlan.Value"/> server-sent events (or at once for a whole answer).</summary>
    AfterEvents,

    /// <summary>Send the first <see cref="CancelPlan.Value"/> bytes of the body, then abort.</summary>
    MidBody,
}

internal readonly record struct CancelPlan(CancelKind Kind, int Value)
{
    public static readonly CancelPlan None = new(CancelKind.None, 0);

    public override string ToString() => Kind switch
    {
        CancelKind.None => "none",
        CancelKind.AfterMs => $"client aborts after {Value} ms",
        CancelKind.AfterEvents => $"client aborts after {Value} events",
        _ => $"client aborts after sending {Value} body bytes",
    };
}

/// <summary>What a request near the context limit must get: 200 when it fits (429 allowed), else 400 context_length_exceeded.</summary>
internal readonly record struct ContextExpectation(int PromptTokens, int? MaxTokens, bool Fits);

/// <summary>One generated request, reproducible from the fuzzer's seed and its index.</summary>
internal sealed record FuzzRequest
{
    public required int Index { get; init; }
    public required int Group { get; init; }
    public required string Method { get; init; }
    public required string Path { get; init; }
    public byte[]? Body { get; init; }

    /// <summary>The Content-Type header as sent; null sends none.</summary>
    public string? ContentType { get; init; } = "application/json";

    public CancelPlan Cancel { get; init; } = CancelPlan.None;

    /// <summary>The one field this request changed from a valid request: a 400 must name it. Null when it changed none, several, or the body itself.</summary>
    public string? MutatedField { get; init; }

    /// <summary>Choices a 200 must carry (prompts × n) when the request is known to be well formed; null when unknown.</summary>
    public int? ExpectedChoices { get; init; }

    public ContextExpectation? Context { get; init; }

    /// <summary>max_tokens of each choice when known: a 200's usage may not report more than choices × this.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Top log-probabilities asked per token when known (0: only the chosen token's).</summary>
    public int? TopLogprobs { get; init; }

    /// <summary>Malformed at the HTTP level (a NUL in the path): Kestrel answers 400 itself, before any of the server's code, so with no error JSON.</summary>
    public bool HttpLevel { get; init; }

    /// <summary>What was done to the request, for the report.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    public string Route => $"{Method} {Path}";

    public string Describe() =>
        $"#{Index} {Method} {(Path.Length > 100 ? Path[..100] + "..." : Path)} ({(Notes.Count == 0 ? "valid" : string.Join("; ", Notes))}{(Cancel.Kind == CancelKind.None ? "" : "; " + Cancel)})";
}

/// <summary>Requests sent together: one alone, or a burst (n > 1 requests whose n add up past --max-num-seqs, or more requests than the queue holds).</summary>
internal sealed record FuzzGroup(int Id, string Kind, IReadOnlyList<FuzzRequest> Requests);
