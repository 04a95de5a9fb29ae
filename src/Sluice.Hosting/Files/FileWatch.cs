namespace Sluice.Hosting.Files;

/// <summary>
/// Notices when files change (API keys, TLS certificates, configuration), by comparing their <see cref="FileStamp"/>
/// with the last one accepted, at most once per <see cref="Interval"/> and only when asked (on use: no timer, no
/// file-system events, which miss changes on network and container volumes). The owner reloads on a change and
/// <see cref="Accept"/>s the stamp once the new content is in service; until then every check sees the change again,
/// so a half-written file is retried rather than skipped. Not thread-safe: the owner locks.
/// </summary>
public sealed class FileWatch
{
    /// <summary>How often the files are looked at, at most. Default 1 s.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(1);

    private readonly string[] _paths;
    private readonly TimeProvider _time;
    private FileStamp _accepted;
    private long _lastCheck;

    /// <summary>Watches <paramref name="paths"/>, taking their stamp now as the one in service.</summary>
    public FileWatch(IReadOnlyList<string> paths, TimeProvider time, TimeSpan? interval = null)
    {
        _paths = [.. paths];
        _time = time;
        Interval = interval ?? DefaultInterval;
        _accepted = FileStamp.Read(_paths);
        _lastCheck = time.GetTimestamp();
    }

    public TimeSpan Interval { get; }

    public IReadOnlyList<string> Paths => _paths;

    /// <summary>
    /// True, with the files' new stamp, when the interval has passed since the last check (or <paramref name="force"/>)
    /// and the files differ from the accepted stamp.
    /// </summary>
    public bool TryGetChange(out FileStamp stamp, bool force = false)
    {
        long now = _time.GetTimestamp();
        if (!force && _time.GetElapsedTime(_lastCheck, now) < Interval)
        {
            stamp = _accepted;
            return false;
        }
        _lastCheck = now;
        stamp = FileStamp.Read(_paths);
        return !stamp.Equals(_accepted);
    }

    /// <summary>The content of <paramref name="stamp"/> is in service: only a later change counts.</summary>
    public void Accept(FileStamp stamp) => _accepted = stamp;
}
