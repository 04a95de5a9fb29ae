namespace Sluice.Engine.Scheduling;

/// <summary>
/// A sequence's life: Waiting (queued, or preempted and waiting to be recomputed) → Running
/// (holds KV blocks; prefilling in chunks, then decoding one token per step) → Finished (blocks
/// released). Preemption sends a Running sequence back to Waiting with its blocks freed; it resumes
/// by recomputing its prompt and everything it had generated, which gives the same tokens.
/// </summary>
public enum SequenceStatus
{
    Waiting,
    Running,
    Finished,
}
