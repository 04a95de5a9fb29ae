namespace Sluice.Engine.Sampling;

/// <summary>A token and its log-probability under the model's raw distribution.</summary>
public readonly record struct TokenLogprob(int Token, float Logprob);
