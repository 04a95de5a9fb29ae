using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Sluice.Hosting.Files;

namespace Sluice.Hosting.Auth;

/// <summary>
/// The keys a host accepts: those given with --api-key, plus those in --api-key-file, which is
/// re-read when it changes (a <see cref="FileWatch"/>: at most once a second, on use). A key removed from the file stays
/// valid for the grace period, so clients can move to the new key without failed requests.
/// Keys are compared as SHA-256 digests in constant time, every key every time.
/// </summary>
public sealed partial class FileApiKeyStore : IApiKeyStore
{
    private readonly object _lock = new();
    private readonly byte[][] _fixed;
    private readonly string? _file;
    private readonly FileWatch? _watch;
    private readonly TimeSpan _grace;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private byte[][] _fromFile = [];
    private List<(byte[] Digest, long Until)> _retired = [];

    public FileApiKeyStore(IEnumerable<string> keys, string? keyFile, TimeSpan gracePeriod, TimeProvider time, ILogger log)
    {
        var given = keys.ToList();
        foreach (var key in given)
        {
            RequireKey(key, "--api-key");
        }
        _fixed = [.. given.Select(Digest)];
        _file = keyFile;
        _grace = gracePeriod;
        _time = time;
        _log = log;
        if (_file != null)
        {
            _watch = new FileWatch([_file], time);
            // a missing or unreadable file at start is an operator error worth stopping for
            _fromFile = [.. ReadKeyFile(_file).Select(Digest)];
        }
    }

    /// <summary>
    /// Throws when a configured key is empty or only spaces, naming <paramref name="origin"/> (the flag, or the setting
    /// and its file). Such a key mostly comes from an unset variable (<c>--api-key "$KEY"</c>), and left out it would
    /// quietly serve without authentication.
    /// </summary>
    public static void RequireKey(string key, string origin)
    {
        if (string.IsNullOrWhiteSpace(key))
        {
            throw new ArgumentException(
                $"{origin} is {(key.Length == 0 ? "empty" : "only spaces")} (an unset variable?): give the key; to serve without authentication, give no API key at all");
        }
    }

    /// <summary>True when any key is configured (a key file counts even while empty).</summary>
    public bool Enabled => _fixed.Length > 0 || _file != null;

    public ValueTask<bool> IsValidAsync(string presented, CancellationToken cancellationToken) => ValueTask.FromResult(IsValid(presented));

    /// <summary>Whether <paramref name="presented"/> is a current key, or a retired one still in its grace period.</summary>
    public bool IsValid(string presented)
    {
        ReloadIfChanged();
        var digest = Digest(presented);
        bool match = false;
        foreach (var key in _fixed)
        {
            match |= CryptographicOperations.FixedTimeEquals(key, digest);
        }
        byte[][] current;
        List<(byte[] Digest, long Until)> retired;
        lock (_lock)
        {
            current = _fromFile;
            retired = _retired;
        }
        foreach (var key in current)
        {
            match |= CryptographicOperations.FixedTimeEquals(key, digest);
        }
        long now = _time.GetTimestamp();
        foreach (var (key, until) in retired)
        {
            match |= CryptographicOperations.FixedTimeEquals(key, digest) & now < until;
        }
        return match;
    }

    /// <summary>Reads the key file now if it changed since the last read (tests call this to skip the one-second wait).</summary>
    public void ReloadIfChanged(bool force = false)
    {
        if (_file == null || _watch == null)
        {
            return;
        }
        lock (_lock)
        {
            try
            {
                if (!_watch.TryGetChange(out var stamp, force))
                {
                    return;
                }
                long now = _time.GetTimestamp();
                var keys = ReloadKeyFile(_file).Select(Digest).ToArray();
                long until = now + (long)(_grace.TotalSeconds * _time.TimestampFrequency);
                var retired = _retired.Where(r => now < r.Until && !keys.Any(k => k.AsSpan().SequenceEqual(r.Digest))).ToList();
                foreach (var old in _fromFile)
                {
                    if (!keys.Any(k => k.AsSpan().SequenceEqual(old)))
                    {
                        retired.Add((old, until));
                    }
                }
                _fromFile = keys;
                _retired = retired;
                _watch.Accept(stamp);
                LogKeysReloaded(_log, _file, keys.Length, retired.Count, _grace.TotalSeconds);
            }
            catch (IOException ex)
            {
                LogKeyFileUnreadable(_log, _file, ex.Message);
            }
            catch (UnauthorizedAccessException ex)
            {
                LogKeyFileUnreadable(_log, _file, ex.Message);
            }
        }
    }

    /// <summary>One key per line; blank lines and lines starting with # are skipped; surrounding spaces trimmed.</summary>
    internal static IEnumerable<string> ReadKeyFile(string path) =>
        File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();

    private static IEnumerable<string> ReloadKeyFile(string path) =>
        File.Exists(path) ? ReadKeyFile(path) : throw new FileNotFoundException($"API key file {path} not found");

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "API key file {File} reloaded: {Keys} current keys, {Retired} retired keys valid for their {GraceSeconds} s grace period")]
    private static partial void LogKeysReloaded(ILogger log, string file, int keys, int retired, double graceSeconds);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "API key file {File} could not be read ({Reason}); keeping the previous keys")]
    private static partial void LogKeyFileUnreadable(ILogger log, string file, string reason);
}
