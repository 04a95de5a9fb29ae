namespace Sluice.Engine.Models.Synthesis;

/// <summary>What <see cref="ModelSynthesizer.Write"/> produced.</summary>
public sealed record SynthesisResult(string Path, ModelPlan Plan, long FileBytes, TimeSpan Elapsed);
