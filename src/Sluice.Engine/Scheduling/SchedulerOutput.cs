namespace Sluice.Engine.Scheduling;

/// <summary>What one step runs: sequences with their token counts (Sequence.ScheduledTokens), and what happened to make room.</summary>
public sealed class SchedulerOutput
{
    public List<Sequence> Scheduled { get; } = [];
    public List<Sequence> Preempted { get; } = [];
    public int TotalTokens { get; set; }

    public void Clear()
    {
        Scheduled.Clear();
        Preempted.Clear();
        TotalTokens = 0;
    }
}
