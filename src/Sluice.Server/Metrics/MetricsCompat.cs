namespace Sluice.Server.Metrics;

/// <summary>--metrics-compat: further names the same data is published under.</summary>
public enum MetricsCompat
{
    /// <summary>Only the sluice_ names (and the process_ ones).</summary>
    None,

    /// <summary>Also vLLM's vllm: names and labels (model_name, engine), so vLLM dashboards, alerts and autoscalers work unchanged.</summary>
    Vllm,
}
