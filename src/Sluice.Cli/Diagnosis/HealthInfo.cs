namespace Sluice.Cli.Diagnosis;

/// <summary>What GET /health said: healthy or not, why, and the server's state.</summary>
internal sealed record HealthInfo(bool Healthy, string? Reason, string State, string? Model);
