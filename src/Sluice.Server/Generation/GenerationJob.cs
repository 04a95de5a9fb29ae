using Sluice.Engine.Sampling;

namespace Sluice.Server.Generation;

/// <summary>A validated generation request: one engine request per prompt, each with <c>n</c> sequences.</summary>
public sealed record GenerationJob(string RequestId, string Route, string Model, IReadOnlyList<int[]> Prompts, SamplingParams Sampling)
{
    public bool Stream { get; init; }
    public int Priority { get; init; }

    /// <summary>Choices in the response: prompts × n, indexed prompt-major.</summary>
    public int Choices => Prompts.Count * Sampling.N;
}
