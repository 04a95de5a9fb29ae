namespace Sluice.Engine.Scheduling;

/// <summary>
/// --scheduling-policy: the order in which waiting sequences are admitted and which running one is preempted
/// first. Parsed from its flag's text ("fcfs", "priority") where the command line or config file is read.
/// </summary>
public enum SchedulingPolicy
{
    /// <summary>First come, first served: submission order; the newest running sequence is preempted first.</summary>
    Fcfs,

    /// <summary>
    /// By (priority, submission order), a lower priority value first as in vLLM; the running sequence with the
    /// highest value (the newest among equals) is preempted first.
    /// </summary>
    Priority,
}
