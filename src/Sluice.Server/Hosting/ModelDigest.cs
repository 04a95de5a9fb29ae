using System.Security.Cryptography;
using System.Text;

namespace Sluice.Server.Hosting;

/// <summary>
/// The served model's SHA-256 for GET /version, computed once in the background after the model is ready (reading a
/// multi-gigabyte file must not delay readiness). A file's digest is <c>sha256sum</c>'s; a folder's is the SHA-256 of its
/// <c>sha256sum</c> listing (every file, sorted by relative path), so <c>sluice model verify --manifest</c> explains it.
/// A file changed since load reports no digest: it would not be the one being served.
/// </summary>
public sealed class ModelDigest
{
    private readonly string? _path;
    private volatile string? _sha256;
    private volatile string _status;
    private (long Length, DateTime Written) _stampAtLoad;

    public ModelDigest(string? path)
    {
        _path = path;
        _status = path is null ? "none (built-in demo model)" : "pending";
    }

    /// <summary>Hex digest, once computed.</summary>
    public string? Sha256 => _sha256;

    /// <summary>pending, computing, done, or why there is none.</summary>
    public string Status => _status;

    /// <summary>Remembers the file's stamp (call when the model has just been read).</summary>
    internal void MarkLoaded()
    {
        if (_path is not null && File.Exists(_path))
        {
            _stampAtLoad = Stamp(_path);
        }
    }

    /// <summary>Hashes the model on a background thread; a failure leaves the reason in <see cref="Status"/>.</summary>
    internal void StartInBackground()
    {
        if (_path is null)
        {
            return;
        }
        var thread = new Thread(Compute) { IsBackground = true, Name = "sluice-model-digest", Priority = ThreadPriority.BelowNormal };
        thread.Start();
    }

    private void Compute()
    {
        string path = _path!;
        _status = "computing";
        try
        {
            string digest = Directory.Exists(path) ? FolderDigest(path) : FileDigest(path);
            if (File.Exists(path) && Stamp(path) != _stampAtLoad)
            {
                _status = "the file changed since it was loaded";
                return;
            }
            _sha256 = digest;
            _status = "done";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _status = "unreadable: " + ex.Message;
        }
    }

    private static (long, DateTime) Stamp(string path)
    {
        var info = new FileInfo(path);
        return (info.Length, info.LastWriteTimeUtc);
    }

    private static string FileDigest(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 20, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static string FolderDigest(string folder)
    {
        var listing = new StringBuilder();
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/'))
            .Where(f => !f.Split('/').Any(part => part.StartsWith('.')))
            .Order(StringComparer.Ordinal);
        foreach (var relative in files)
        {
            listing.Append(FileDigest(Path.Combine(folder, relative))).Append("  ").Append(relative).Append('\n');
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(listing.ToString())));
    }
}
