using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Sluice.Engine.Templates.Runtime;

/// <summary>
/// The per-render budget: counts iterations and call depth against <see cref="TemplateLimits"/>, checks
/// the size of strings and lists the template builds, and watches the clock. One per render, never shared.
/// </summary>
internal sealed class RenderState(TemplateLimits limits, TimeProvider clock)
{
    private readonly long _deadline = Stopwatch.GetTimestamp() + (long)(limits.Timeout.TotalSeconds * Stopwatch.Frequency);
    private long _iterations;
    private long _ticks;
    private int _callDepth;

    public TemplateLimits Limits { get; } = limits;

    public TimeProvider Clock { get; } = clock;

    /// <summary>Counts one loop iteration or macro call.</summary>
    public void CountIteration()
    {
        if (++_iterations > Limits.MaxIterations)
        {
            throw Errors.Limit($"the template ran more than {Limits.MaxIterations} loop iterations and macro calls");
        }

        CheckTime();
    }

    /// <summary>
    /// Checks the clock every 16th call: cheap enough for every iteration, call and size check, and frequent
    /// enough that no single step between checks can run long.
    /// </summary>
    public void CheckTime()
    {
        if ((++_ticks & 15) != 0)
        {
            return;
        }

        if (Stopwatch.GetTimestamp() > _deadline)
        {
            throw Errors.Limit($"rendering took longer than {Limits.Timeout.TotalSeconds:0.###} s");
        }
    }

    public void EnterCall()
    {
        // The stack check keeps a generous MaxRecursionDepth from overflowing a small thread stack.
        if (++_callDepth > Limits.MaxRecursionDepth || !RuntimeHelpers.TryEnsureSufficientExecutionStack())
        {
            throw Errors.Limit($"macro calls nested deeper than {Limits.MaxRecursionDepth} levels");
        }
    }

    public void ExitCall() => _callDepth--;

    /// <summary>Checks a nesting depth reached while walking a value (repr, JSON, equality), which may be cyclic.</summary>
    public void CheckValueDepth(int depth)
    {
        if (depth > Limits.MaxRecursionDepth)
        {
            throw Errors.Limit($"value nested deeper than {Limits.MaxRecursionDepth} levels (is it cyclic?)");
        }
    }

    public string CheckString(string value)
    {
        CheckStringLength(value.Length);
        return value;
    }

    public void CheckStringLength(long length)
    {
        CheckTime();
        if (length > Limits.MaxOutputLength)
        {
            throw Errors.Limit($"a string grew past {Limits.MaxOutputLength} characters");
        }
    }

    public void CheckCollectionLength(long count)
    {
        CheckTime();
        if (count > Limits.MaxCollectionLength)
        {
            throw Errors.Limit($"a list grew past {Limits.MaxCollectionLength} items");
        }
    }
}
