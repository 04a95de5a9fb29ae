using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// The local spend journal: every spend row is appended here, one JSON line in one <c>write()</c> (no fsync), before its
/// response ends, and committed to the database in the background (<see cref="SpendWriter"/>). A SIGKILL cannot lose
/// what the kernel has, so a row in the journal is as durable as SQLite's synchronous=NORMAL commit (a power loss may
/// lose the last rows of both). Each gateway process writes its own folder under the journal folder
/// (<c>{pid}-{id}/</c>, held with an exclusive lock on its <c>lock</c> file), in segments (<c>000001.jsonl</c>, …) of
/// up to <see cref="SegmentBytes"/>; a segment all of whose rows have committed (and that is no longer written) is
/// deleted. At start, <see cref="Orphans"/> are the folders no live process holds (a gateway killed, or stopped while the
/// database was away): their rows are written to the database (idempotent by row id: a row already there stays as it
/// is) and the folder deleted. A folder written for another database (its <c>target</c> file) is left alone and logged.
/// A segment's last line without its newline is a torn write (a crash mid-write): it is skipped and logged; any other line
/// that does not parse stops the start with an error naming the file and line.
/// </summary>
public sealed partial class SpendJournal : IDisposable
{
    /// <summary>A segment past this size is closed and a new one started.</summary>
    public const long SegmentBytes = 4 << 20;

    private const string TargetFile = "target";
    private const string LockFile = "lock";

    private readonly Lock _lock = new();
    private readonly string _folder;
    private readonly FileStream _held;
    private readonly Dictionary<long, Segment> _segments = [];
    private readonly ILogger _log;
    private Segment _current;

    private SpendJournal(string root, string folder, FileStream held, ILogger log)
    {
        Root = root;
        _folder = folder;
        _held = held;
        _log = log;
        _current = OpenSegment(1);
    }

    /// <summary>The journal folder every gateway on this store writes under.</summary>
    public string Root { get; }

    /// <summary>This process's own folder.</summary>
    public string Folder => _folder;

    /// <summary>Rows appended and not yet committed.</summary>
    public long Pending
    {
        get
        {
            lock (_lock)
            {
                return _segments.Values.Sum(s => s.Pending);
            }
        }
    }

    /// <summary>
    /// The default journal folder: beside a SQLite file (<c>gateway.db-spend-journal</c>: the database's own volume); for
    /// PostgreSQL, <c>sluice-spend-journal/{hash of the database}</c> in the temporary folder (writable under a read-only
    /// root, and in Kubernetes an emptyDir that outlives a container's restart), named by the database so a journal is
    /// only ever replayed into the database it was written for. docs/tenancy.md says when to set a persistent one.
    /// </summary>
    public static string DefaultFolder(string databaseDescription, string? sqlitePath)
    {
        if (sqlitePath is not null)
        {
            return sqlitePath + "-spend-journal";
        }
        string name = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(databaseDescription)))[..16];
        return Path.Combine(Path.GetTempPath(), "sluice-spend-journal", name);
    }

    /// <summary>Creates this process's folder under <paramref name="root"/> (created if missing) and holds it; <paramref name="target"/> names the database its rows are for.</summary>
    public static SpendJournal Open(string root, string target, ILogger log)
    {
        try
        {
            Directory.CreateDirectory(root);
            string folder = Path.Combine(root, $"{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..8]}");
            Directory.CreateDirectory(folder);
            var held = new FileStream(Path.Combine(folder, LockFile), FileMode.Create, FileAccess.ReadWrite, FileShare.None);
            File.WriteAllText(Path.Combine(folder, TargetFile), target);
            return new SpendJournal(root, folder, held, log);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SpendJournalException($"spend journal {root}: cannot create it ({e.Message}); set tenancy.spend.journal to a writable folder (or off)", e);
        }
    }

    /// <summary>The rows of the folders under the journal folder that no live process holds and that were written for <paramref name="target"/>.</summary>
    public IReadOnlyList<OrphanJournal> Orphans(string target)
    {
        var orphans = new List<OrphanJournal>();
        foreach (string folder in Directory.GetDirectories(Root).Order(StringComparer.Ordinal))
        {
            if (string.Equals(folder, _folder, StringComparison.Ordinal) || !IsProcessFolder(Path.GetFileName(folder)))
            {
                continue; // ours, or not a journal's: never touched
            }
            FileStream held;
            try
            {
                held = new FileStream(Path.Combine(folder, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                continue; // a live gateway's
            }
            string? written = File.Exists(Path.Combine(folder, TargetFile)) ? File.ReadAllText(Path.Combine(folder, TargetFile)) : null;
            if (written is null && Directory.GetFiles(folder, "*.jsonl").Length > 0)
            {
                held.Dispose();
                LogOtherTarget(_log, folder, "an unknown database (no target file)", target);
                continue;
            }
            if (written is not null && !string.Equals(written, target, StringComparison.Ordinal))
            {
                held.Dispose();
                LogOtherTarget(_log, folder, written, target);
                continue;
            }
            var rows = new List<UsageRecord>();
            int torn = 0;
            foreach (string file in Directory.GetFiles(folder, "*.jsonl").Order(StringComparer.Ordinal))
            {
                torn += Read(file, rows);
            }
            orphans.Add(new OrphanJournal(folder, rows, torn, held));
        }
        return orphans;
    }

    /// <summary>A process folder's name as <see cref="Open"/> makes it: <c>{pid}-{8 hex digits}</c>.</summary>
    private static bool IsProcessFolder(string name)
    {
        int dash = name.IndexOf('-', StringComparison.Ordinal);
        return dash > 0 && name.Length == dash + 9 && !name.AsSpan(0, dash).ContainsAnyExceptInRange('0', '9')
            && !name.AsSpan(dash + 1).ContainsAnyExcept("0123456789abcdef");
    }

    /// <summary>Reads one segment's rows into <paramref name="rows"/>; returns 1 when its last line was torn (skipped), else 0.</summary>
    internal static int Read(string file, List<UsageRecord> rows)
    {
        byte[] bytes = File.ReadAllBytes(file);
        int line = 0, at = 0;
        while (at < bytes.Length)
        {
            line++;
            int end = Array.IndexOf(bytes, (byte)'\n', at);
            if (end < 0)
            {
                return 1; // a write cut short: the row's response never ended
            }
            try
            {
                rows.Add(Parse(bytes.AsSpan(at, end - at)));
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
            {
                throw new SpendJournalException(
                    $"spend journal {file}: line {line.ToString(CultureInfo.InvariantCulture)} is not a spend row ({e.Message}); move the file away to start, "
                    + "and write its good rows to the database by hand", e);
            }
            at = end + 1;
        }
        return 0;
    }

    /// <summary>Appends <paramref name="row"/> (one write, no fsync); returns the segment it went to, for <see cref="Committed"/>.</summary>
    public long Append(UsageRecord row)
    {
        byte[] line = Format(row);
        lock (_lock)
        {
            var segment = _current;
            RandomAccess.Write(segment.Handle, line, segment.Length);
            segment.Length += line.Length;
            segment.Pending++;
            if (segment.Length >= SegmentBytes)
            {
                _current = OpenSegment(segment.Number + 1);
                DeleteIfDone(segment);
            }
            return segment.Number;
        }
    }

    /// <summary><paramref name="rows"/> rows of segment <paramref name="segment"/> are in the database.</summary>
    public void Committed(long segment, int rows)
    {
        lock (_lock)
        {
            if (_segments.TryGetValue(segment, out var s))
            {
                s.Pending -= rows;
                DeleteIfDone(s);
            }
        }
    }

    /// <summary>Stops writing; with <paramref name="committed"/> (every row is in the database) the folder is deleted, else kept for the next start to replay.</summary>
    public void Close(bool committed)
    {
        lock (_lock)
        {
            foreach (var s in _segments.Values)
            {
                s.Handle.Dispose();
            }
            _segments.Clear();
            _held.Dispose();
            if (committed)
            {
                Directory.Delete(_folder, recursive: true);
            }
        }
    }

    public void Dispose() => Close(committed: false);

    private Segment OpenSegment(long number)
    {
        string path = Path.Combine(_folder, number.ToString("D6", CultureInfo.InvariantCulture) + ".jsonl");
        var segment = new Segment(number, path, File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read));
        _segments[number] = segment;
        return segment;
    }

    private void DeleteIfDone(Segment segment)
    {
        if (segment.Pending == 0 && !ReferenceEquals(segment, _current))
        {
            segment.Handle.Dispose();
            File.Delete(segment.Path);
            _segments.Remove(segment.Number);
        }
    }

    /// <summary>One row as one JSON line (its newline included).</summary>
    internal static byte[] Format(UsageRecord r)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("row", r.RowId);
            w.WriteString("req", r.RequestId);
            WriteNullable(w, "key", r.KeyId);
            WriteNullable(w, "team", r.Team);
            WriteNullable(w, "user", r.User);
            w.WriteString("model", r.Model);
            WriteNullable(w, "backend", r.Backend);
            WriteNullable(w, "version", r.Version);
            w.WriteNumber("in", r.PromptTokens);
            w.WriteNumber("out", r.CompletionTokens);
            w.WriteNumber("pico", r.SpendPico);
            w.WriteBoolean("stream", r.Streamed);
            w.WriteBoolean("cancelled", r.Cancelled);
            w.WriteBoolean("cached", r.Cached);
            w.WriteBoolean("counted", r.Counted);
            w.WriteNumber("status", r.Status);
            w.WriteNumber("start", r.Start.ToUnixTimeMilliseconds());
            w.WriteNumber("end", r.End.ToUnixTimeMilliseconds());
            w.WriteEndObject();
        }
        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    internal static UsageRecord Parse(ReadOnlySpan<byte> line)
    {
        using var document = JsonDocument.Parse(line.ToArray());
        var o = document.RootElement;
        static string? Text(JsonElement o, string name) => o.GetProperty(name).ValueKind == JsonValueKind.Null ? null : o.GetProperty(name).GetString();
        return new UsageRecord
        {
            RowId = o.GetProperty("row").GetString() ?? throw new FormatException("row is null"),
            RequestId = o.GetProperty("req").GetString() ?? throw new FormatException("req is null"),
            KeyId = Text(o, "key"),
            Team = Text(o, "team"),
            User = Text(o, "user"),
            Model = o.GetProperty("model").GetString() ?? throw new FormatException("model is null"),
            Backend = Text(o, "backend"),
            Version = Text(o, "version"),
            PromptTokens = o.GetProperty("in").GetInt64(),
            CompletionTokens = o.GetProperty("out").GetInt64(),
            SpendPico = o.GetProperty("pico").GetInt64(),
            Streamed = o.GetProperty("stream").GetBoolean(),
            Cancelled = o.GetProperty("cancelled").GetBoolean(),
            Cached = o.GetProperty("cached").GetBoolean(),
            Counted = o.GetProperty("counted").GetBoolean(),
            Status = o.GetProperty("status").GetInt32(),
            Start = DateTimeOffset.FromUnixTimeMilliseconds(o.GetProperty("start").GetInt64()),
            End = DateTimeOffset.FromUnixTimeMilliseconds(o.GetProperty("end").GetInt64()),
        };
    }

    private sealed class Segment(long number, string path, SafeFileHandle handle)
    {
        public long Number { get; } = number;
        public string Path { get; } = path;
        public SafeFileHandle Handle { get; } = handle;
        public long Length { get; set; }
        public long Pending { get; set; }
    }

    [LoggerMessage(EventId = 510, Level = LogLevel.Warning,
        Message = "Spend journal {Folder} was written for {Written}, not this gateway's {Target}: left as it is (start a gateway on that database to replay it)")]
    private static partial void LogOtherTarget(ILogger log, string folder, string written, string target);
}

/// <summary>A dead gateway's journal folder, held (locked) while its rows are replayed; <see cref="Delete"/> once they are in the database.</summary>
public sealed class OrphanJournal(string folder, IReadOnlyList<UsageRecord> rows, int torn, FileStream held) : IDisposable
{
    public string Folder { get; } = folder;

    public IReadOnlyList<UsageRecord> Rows { get; } = rows;

    /// <summary>Segments whose last line was cut short (skipped).</summary>
    public int Torn { get; } = torn;

    public void Delete()
    {
        held.Dispose();
        Directory.Delete(Folder, recursive: true);
    }

    public void Dispose() => held.Dispose();
}

/// <summary>The spend journal cannot be written or read: the message names the file and what to do.</summary>
public sealed class SpendJournalException(string message, Exception? inner = null) : Exception(message, inner);
