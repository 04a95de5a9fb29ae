namespace Sluice.Cli.Diagnosis;

/// <summary>How urgent a finding is.</summary>
internal enum Severity
{
    Info,
    Warning,
    Critical,
}

/// <summary>
/// One diagnosis in the runbooks' terms: the symptom (a stable code for scripts), the numbers that show it,
/// the levers to pull, and the runbook section that goes further.
/// </summary>
internal sealed record Finding(string Symptom, string Title, Severity Severity, IReadOnlyList<string> Evidence, IReadOnlyList<string> Levers, string? Runbook);
