namespace Sluice.Hosting.Logging;

/// <summary>--log-format: how log lines are written to stdout.</summary>
public enum LogFormat
{
    /// <summary>One readable line per event (the default).</summary>
    Text,

    /// <summary>One JSON object per line, with each event's fields as properties (for log shippers).</summary>
    Json,
}
