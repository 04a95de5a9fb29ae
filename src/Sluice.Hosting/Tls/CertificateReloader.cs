using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Sluice.Hosting.Files;

namespace Sluice.Hosting.Tls;

/// <summary>
/// The server certificate from --ssl-certfile/--ssl-keyfile (PEM), re-read when either file changes
/// (a <see cref="FileWatch"/>: at most once a second, at handshakes), so certificates rotate without a restart. A pair
/// that fails to load (e.g. half-written) keeps the previous certificate in service.
/// A certificate that is not valid yet (NotBefore in the future) stops the start, and on reload is refused
/// (the previous one stays in service until it becomes valid); an expired one is served (replacing it must not need a restart)
/// with a warning, since clients will refuse it.
/// </summary>
public sealed partial class CertificateReloader : IDisposable
{
    private readonly object _lock = new();
    private readonly string _certFile;
    private readonly string _keyFile;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly FileWatch _watch;
    private X509Certificate2 _current;
    private DateTimeOffset _notAfter;
    private FileStamp? _refused;

    public CertificateReloader(string certFile, string keyFile, TimeProvider time, ILogger log)
    {
        _certFile = certFile;
        _keyFile = keyFile;
        _time = time;
        _log = log;
        _watch = new FileWatch([certFile, keyFile], time);
        var first = Load(certFile, keyFile);
        var now = time.GetUtcNow();
        if (ValidFrom(first) is var from && from > now)
        {
            first.Dispose();
            throw new CryptographicException(
                $"TLS certificate {certFile} is not valid yet: it is valid from {from:u} (now {now:u}); check its dates and this machine's clock");
        }
        _current = first;
        _notAfter = ValidUntil(first);
        if (_notAfter <= now)
        {
            LogExpired(_log, certFile, _notAfter);
        }
    }

    /// <summary>The certificate to present now.</summary>
    public X509Certificate2 Current
    {
        get
        {
            lock (_lock)
            {
                ReloadIfDue();
                return _current;
            }
        }
    }

    /// <summary>When the certificate in service expires (its NotAfter, UTC), after the same check for a new one as a handshake.</summary>
    public DateTimeOffset NotAfter
    {
        get
        {
            lock (_lock)
            {
                ReloadIfDue();
                return _notAfter;
            }
        }
    }

    private void ReloadIfDue()
    {
        try
        {
            if (!_watch.TryGetChange(out var stamp))
            {
                return;
            }
            var next = Load(_certFile, _keyFile);
            var now = _time.GetUtcNow();
            if (ValidFrom(next) is var from && from > now)
            {
                // the stamp stays the old one: the file is looked at again at the next check, and taken once valid
                if (!stamp.Equals(_refused))
                {
                    _refused = stamp;
                    LogNotYetValid(_log, _certFile, from, _notAfter);
                }
                next.Dispose();
                return;
            }
            _watch.Accept(stamp);
            // the old certificate may still be in use by a handshake in progress: let the GC retire it
            _current = next;
            _notAfter = ValidUntil(next);
            if (_notAfter <= now)
            {
                LogExpired(_log, _certFile, _notAfter);
            }
            else
            {
                LogReloaded(_log, _certFile, next.Subject, _notAfter);
            }
        }
        catch (Exception ex) when (ex is IOException or CryptographicException or ArgumentException)
        {
            LogReloadFailed(_log, _certFile, ex.Message);
        }
    }

    /// <summary>Loads a PEM certificate and key; throws with both file names when they do not make a pair.</summary>
    public static X509Certificate2 Load(string certFile, string keyFile)
    {
        try
        {
            return X509Certificate2.CreateFromPemFile(certFile, keyFile);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            throw new CryptographicException($"cannot load TLS certificate {certFile} with key {keyFile}: {ex.Message}", ex);
        }
    }

    // X509Certificate2 gives its dates in local time
    private static DateTimeOffset ValidFrom(X509Certificate2 certificate) => new(certificate.NotBefore.ToUniversalTime());

    private static DateTimeOffset ValidUntil(X509Certificate2 certificate) => new(certificate.NotAfter.ToUniversalTime());

    public void Dispose() => _current.Dispose();

    [LoggerMessage(EventId = 111, Level = LogLevel.Information, Message = "TLS certificate {File} reloaded: {Subject}, valid until {NotAfter:u}")]
    private static partial void LogReloaded(ILogger log, string file, string subject, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "TLS certificate {File} changed but could not be loaded ({Reason}); keeping the previous one")]
    private static partial void LogReloadFailed(ILogger log, string file, string reason);

    [LoggerMessage(EventId = 113, Level = LogLevel.Warning, Message = "TLS certificate {File} EXPIRED on {NotAfter:u}: clients that check certificates will refuse every connection until it is replaced")]
    private static partial void LogExpired(ILogger log, string file, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 114, Level = LogLevel.Error, Message = "TLS certificate {File} changed but is not valid until {NotBefore:u}; keeping the previous one (valid until {CurrentNotAfter:u})")]
    private static partial void LogNotYetValid(ILogger log, string file, DateTimeOffset notBefore, DateTimeOffset currentNotAfter);
}
