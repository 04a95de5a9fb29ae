using Sluice.Hosting.Metrics.Exposition;
using Sluice.Server.Observability;

namespace Sluice.Server.Metrics;

/// <summary>
/// The per-request histograms (TTFT, inter-token latency, end-to-end, queue, prefill, decode, inference,
/// prompt and generation tokens) under one naming scheme; the sluice_ and vllm: sets each have one.
/// </summary>
internal sealed class RequestHistograms
{
    public required Histogram Ttft { get; init; }
    public required Histogram Itl { get; init; }
    public required Histogram E2e { get; init; }
    public required Histogram Queue { get; init; }
    public required Histogram Prefill { get; init; }
    public required Histogram Decode { get; init; }
    public required Histogram Inference { get; init; }
    public required Histogram PromptTokens { get; init; }
    public required Histogram GenerationTokens { get; init; }

    public IEnumerable<Histogram> All => [Ttft, Itl, E2e, Queue, Prefill, Decode, Inference, PromptTokens, GenerationTokens];

    /// <summary>Records one request that reached the engine (others have no phases to measure).</summary>
    public void Observe(RequestRecord r, params string[] labels)
    {
        if (r.EngineArrival is null)
        {
            return;
        }
        E2e.Observe(r.Duration.TotalSeconds, labels);
        PromptTokens.Observe(r.PromptTokens, labels);
        GenerationTokens.Observe(r.CompletionTokens, labels);
        Observe(Ttft, r.TimeToFirstToken, labels);
        Observe(Queue, r.QueueTime, labels);
        Observe(Prefill, r.PrefillTime, labels);
        Observe(Decode, r.DecodeTime, labels);
        if (r.PrefillTime is { } prefill)
        {
            Inference.Observe((prefill + (r.DecodeTime ?? TimeSpan.Zero)).TotalSeconds, labels);
        }
        Itl.ObserveAll(r.InterTokenLatencies, labels);
    }

    public void Touch(params string[] labels)
    {
        foreach (var h in All)
        {
            h.Touch(labels);
        }
    }

    private static void Observe(Histogram h, TimeSpan? value, string[] labels)
    {
        if (value is { } v)
        {
            h.Observe(v.TotalSeconds, labels);
        }
    }
}
