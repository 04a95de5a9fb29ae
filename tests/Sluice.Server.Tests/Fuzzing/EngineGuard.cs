using System.Reflection;
using Sluice.Engine.Kernels;
using Sluice.Engine.Serving;

namespace Sluice.Server.Tests.Fuzzing;

/// <summary>
/// Containment, not a fix: the engine sizes its per-step logits buffer for --max-num-seqs rows, so a scheduler that
/// runs more sequences than that writes past the buffer's end and corrupts the native heap, which takes the whole
/// test process down (a "Stack overflow" abort) before the fuzzer can report anything. Widening the buffer to one row
/// per batched token (the most rows a step can ever produce) lets the process survive such a step; the fuzzer's
/// monitor still sees the engine run past --max-num-seqs and fails the test with the requests that did it.
/// </summary>
internal static class EngineGuard
{
    /// <summary>True when the buffer was found and widened (while the engine is idle, before any request).</summary>
    public static bool WidenLogitsBuffer(LlmEngine engine, EngineOptions options, int vocabSize)
    {
        var field = typeof(LlmEngine).GetField("_logits", BindingFlags.NonPublic | BindingFlags.Instance);
        if (field?.GetValue(engine) is not NativeBuffer<float> logits)
        {
            return false;
        }
        logits.EnsureCapacity((long)Math.Max(options.MaxNumSeqs, options.MaxNumBatchedTokens) * vocabSize);
        return true;
    }
}
