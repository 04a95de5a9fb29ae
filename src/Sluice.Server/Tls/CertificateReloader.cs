using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Sluice.Server.Tls;

/// <summary>
/// The server certificate from --ssl-certfile/--ssl-keyfile (PEM), re-read when either file changes
/// (checked at most once a second, at handshakes), so certificates rotate without a restart. A pair
/// that fails to load (e.g. half-written) keeps the previous certificate in service.
/// </summary>
public sealed partial class CertificateReloader : IDisposable
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private readonly object _lock = new();
    private readonly string _certFile;
    private readonly string _keyFile;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private X509Certificate2 _current;
    private (DateTime, DateTime) _stamp;
    private long _lastCheck;

    public CertificateReloader(string certFile, string keyFile, TimeProvider time, ILogger log)
    {
        _certFile = certFile;
        _keyFile = keyFile;
        _time = time;
        _log = log;
        _stamp = Stamp();
        _current = Load(certFile, keyFile);
        _lastCheck = time.GetTimestamp();
    }

    /// <summary>The certificate to present now.</summary>
    public X509Certificate2 Current
    {
        get
        {
            long now = _time.GetTimestamp();
            lock (_lock)
            {
                if (_time.GetElapsedTime(_lastCheck, now) >= CheckInterval)
                {
                    _lastCheck = now;
                    Reload();
                }
                return _current;
            }
        }
    }

    private void Reload()
    {
        try
        {
            var stamp = Stamp();
            if (stamp == _stamp)
            {
                return;
            }
            var next = Load(_certFile, _keyFile);
            _stamp = stamp;
            // the old certificate may still be in use by a handshake in progress: let the GC retire it
            _current = next;
            LogReloaded(_log, _certFile, next.Subject, next.NotAfter);
        }
        catch (Exception ex) when (ex is IOException or System.Security.Cryptography.CryptographicException or ArgumentException)
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
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new System.Security.Cryptography.CryptographicException($"cannot load TLS certificate {certFile} with key {keyFile}: {ex.Message}", ex);
        }
    }

    private (DateTime, DateTime) Stamp() => (File.GetLastWriteTimeUtc(_certFile), File.GetLastWriteTimeUtc(_keyFile));

    public void Dispose() => _current.Dispose();

    [LoggerMessage(EventId = 111, Level = LogLevel.Information, Message = "TLS certificate {File} reloaded: {Subject}, valid until {NotAfter:u}")]
    private static partial void LogReloaded(ILogger log, string file, string subject, DateTime notAfter);

    [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "TLS certificate {File} changed but could not be loaded ({Reason}); keeping the previous one")]
    private static partial void LogReloadFailed(ILogger log, string file, string reason);
}
