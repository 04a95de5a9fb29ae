namespace Sluice.Cli.Benchmarking;

/// <summary>One benchmark request as the client saw it. Times in seconds from the request's start.</summary>
internal sealed record RequestResult
{
    public bool Ok { get; init; }
    public string? Error { get; init; }
    public int PromptTokens { get; init; }
    public int OutputTokens { get; init; }

    /// <summary>Time to the first chunk carrying text.</summary>
    public double Ttft { get; init; }

    /// <summary>Gaps between consecutive text chunks.</summary>
    public IReadOnlyList<double> Itl { get; init; } = [];

    public double E2e { get; init; }

    /// <summary>Time per output token after the first: (e2e - ttft) / (output - 1); null with one token.</summary>
    public double? Tpot => OutputTokens > 1 ? (E2e - Ttft) / (OutputTokens - 1) : null;
}
