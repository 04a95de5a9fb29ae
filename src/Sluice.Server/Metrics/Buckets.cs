namespace Sluice.Server.Metrics;

/// <summary>Default histogram bucket upper bounds (the +Inf bucket is implied). docs/metrics.md lists each by name.</summary>
public static class Buckets
{
    /// <summary>Time to first token, seconds: 5 ms up to 10 minutes.</summary>
    public static IReadOnlyList<double> Ttft { get; } =
        [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 20, 40, 80, 160, 320, 640];

    /// <summary>Inter-token latency, seconds: sub-10 ms resolution (a CPU decode step is a few ms) up to 10 s.</summary>
    public static IReadOnlyList<double> Itl { get; } =
        [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5, 5, 10];

    /// <summary>End-to-end latency, seconds: 100 ms up to an hour (tails past 10 minutes).</summary>
    public static IReadOnlyList<double> E2e { get; } =
        [0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600];

    /// <summary>Queue, prefill, decode and inference phases, seconds: 1 ms up to an hour.</summary>
    public static IReadOnlyList<double> Phase { get; } =
        [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

    /// <summary>CPU-side request stages (body read, JSON parse, template, tokenize, detokenize, writes), seconds: 10 µs up to 10 s.</summary>
    public static IReadOnlyList<double> Stage { get; } =
        [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Tokens per request (1-2-5 steps).</summary>
    public static IReadOnlyList<double> Tokens { get; } =
        [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000];

    /// <summary>vLLM's time-to-first-token buckets.</summary>
    public static IReadOnlyList<double> VllmTtft { get; } =
        [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];

    /// <summary>vLLM's inter-token latency buckets.</summary>
    public static IReadOnlyList<double> VllmItl { get; } =
        [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];

    /// <summary>vLLM's request latency buckets (end-to-end, queue, prefill, decode, inference).</summary>
    public static IReadOnlyList<double> VllmRequest { get; } =
        [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];
}
