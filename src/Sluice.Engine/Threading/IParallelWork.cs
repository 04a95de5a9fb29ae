namespace Sluice.Engine.Threading;

/// <summary>
/// A unit of parallel work: the pool calls <see cref="Execute"/> once for every index in
/// [0, count). Implementations are preallocated objects whose fields are set before each run, so a
/// forward pass hands work to the pool without allocating.
/// </summary>
public interface IParallelWork
{
    void Execute(int index);
}
