namespace Sluice.Hosting.Diagnostics;

/// <summary>The on-demand diagnostics routes' settings. Defaults are documented per property.</summary>
public sealed record DiagnosticsOptions
{
    /// <summary>A trace's length when the request gives none.</summary>
    public const int DefaultTraceSeconds = 10;

    /// <summary>--debug-trace-max-seconds: the longest trace GET /debug/trace takes. Default 60.</summary>
    public int MaxTraceSeconds { get; init; } = 60;

    /// <summary>Where a heap dump is written before it is sent (and deleted); null is the temporary folder.</summary>
    public string? DumpDirectory { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;
}
