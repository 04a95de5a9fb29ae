using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Sluice.Engine.Kernels;
using Sluice.Engine.Memory;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Models;

/// <summary>What <see cref="PackedWeightsCache.Prepare"/> did.</summary>
public enum PackedCacheOutcome
{
    /// <summary>Nothing on this machine packs (no AVX2, or no matrix of a packed type).</summary>
    NothingToPack,

    /// <summary>No cache folder: the weights were packed into private memory.</summary>
    Disabled,

    /// <summary>A valid cache file was found and mapped: nothing was packed.</summary>
    Hit,

    /// <summary>The weights were packed, written to a new cache file, and the file mapped in place of the private copy.</summary>
    Built,

    /// <summary>The weights were packed privately; the cache could not be read or written (<see cref="PackedCacheReport.Reason"/>).</summary>
    Failed,
}

/// <summary>The result of <see cref="PackedWeightsCache.Prepare"/>: outcome, file, why, and how long packing or mapping took.</summary>
public sealed record PackedCacheReport(PackedCacheOutcome Outcome, string? File, string? Reason, TimeSpan Elapsed, long PackedBytes);

/// <summary>
/// Weights repacked for the fast kernels, kept in a file and memory-mapped shared (read-only) instead of repacked
/// into private memory at every start: a restart or a second replica of the same model on the machine maps the file,
/// and the operating system keeps one copy of its pages for all of them.
/// <para>
/// The file is named by a fingerprint of what it was built from: the kernel layout (<see cref="Simd.Path"/>, since
/// the packed form differs with VNNI, and <see cref="FormatVersion"/>), the model file's or folder's sizes and
/// modification times, and each matrix's name, type, shape and sampled bytes of its data. Any change to the model
/// or the layout gives another name; a file that does not match (truncated, another version, another model) is
/// ignored and rebuilt. Files are written to a temporary name, synced, then renamed, so readers never see a partial
/// file, and never modified in place: a mapped file that is deleted stays valid for the processes mapping it.
/// </para>
/// <para>
/// With guarded memory (<see cref="NativeAllocator.Guarded"/>, the test suites) the file is read into guarded private
/// buffers instead of mapped, so a kernel reading past a matrix still faults.
/// </para>
/// </summary>
public sealed unsafe class PackedWeightsCache : IDisposable
{
    /// <summary>Bump when a packer's output or this file's layout changes: old files then stop matching.</summary>
    public const int FormatVersion = 1;

    private const long Magic = 0x5750_4543_4955_4C53; // "SLUICEPW" little-endian
    private const int HeaderBytes = 4096;
    private const int Align = 4096;

    private byte* _map;
    private long _length;
    private readonly List<IDisposable> _buffers = [];

    private PackedWeightsCache(string path) => Path = path;

    /// <summary>The cache file.</summary>
    public string Path { get; }

    /// <summary>The default folder: $SLUICE_CACHE_DIR/packed, else $XDG_CACHE_HOME/sluice/packed, else ~/.cache/sluice/packed.</summary>
    public static string DefaultFolder()
    {
        string? root = Environment.GetEnvironmentVariable("SLUICE_CACHE_DIR");
        if (string.IsNullOrEmpty(root))
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            root = System.IO.Path.Combine(string.IsNullOrEmpty(xdg)
                ? System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache")
                : xdg, "sluice");
        }
        return System.IO.Path.Combine(root, "packed");
    }

    /// <summary>
    /// Packs the model's matrices now (what the first requests would otherwise do), through the cache in
    /// <paramref name="folder"/> when given: maps a matching file, or packs and writes one, then maps it. Never fails the
    /// load for the cache's sake: a folder that cannot be written leaves the weights packed privately, with the reason.
    /// Call once, right after loading and before the model serves.
    /// </summary>
    public static PackedCacheReport Prepare(LoadedModel model, string? folder)
    {
        var watch = Stopwatch.StartNew();
        var matrices = model.Weights.Matrices.Where(m => m.Packable).ToList();
        long packedBytes = matrices.Sum(m => m.PackedByteSize + m.SubnormalWordCount * 8);
        if (matrices.Count == 0)
        {
            return new(PackedCacheOutcome.NothingToPack, null, null, watch.Elapsed, 0);
        }
        if (folder is null)
        {
            PackAll(matrices);
            return new(PackedCacheOutcome.Disabled, null, null, watch.Elapsed, packedBytes);
        }
        // the fingerprint samples the matrices' own bytes: before packing, which may hand those pages back
        string name = $"{Sanitize(model.Name)}-{Fingerprint(model, matrices)}.sluicepack";
        string path = System.IO.Path.Combine(folder, name);
        string? reason = null;
        if (File.Exists(path))
        {
            var cache = TryOpen(path, matrices, out reason);
            if (cache is not null)
            {
                model.PackedCache = cache;
                return new(PackedCacheOutcome.Hit, path, null, watch.Elapsed, packedBytes);
            }
        }
        PackAll(matrices);
        try
        {
            Directory.CreateDirectory(folder);
            Write(path, matrices);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new(PackedCacheOutcome.Failed, path, $"cannot write {path}: {e.Message}", watch.Elapsed, packedBytes);
        }
        var written = TryOpen(path, matrices, out string? mapReason);
        if (written is null)
        {
            return new(PackedCacheOutcome.Failed, path, $"wrote {path} but cannot use it: {mapReason}", watch.Elapsed, packedBytes);
        }
        model.PackedCache = written;
        return new(PackedCacheOutcome.Built, path, reason, watch.Elapsed, packedBytes);
    }

    private static void PackAll(List<WeightMatrix> matrices)
    {
        foreach (var m in matrices)
        {
            m.PackNow();
        }
    }

    private static string Sanitize(string name)
    {
        var sb = new StringBuilder();
        foreach (char c in name.Length > 48 ? name[..48] : name)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_');
        }
        return sb.Length > 0 ? sb.ToString() : "model";
    }

    /// <summary>The hex fingerprint naming the cache file of <paramref name="model"/> on this machine's kernel layout.</summary>
    internal static string Fingerprint(LoadedModel model, IReadOnlyList<WeightMatrix> matrices)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Text(string s) => hash.AppendData(Encoding.UTF8.GetBytes(s + "\n"));
        Text($"sluice-packed v{FormatVersion} {Simd.Path}");
        if (File.Exists(model.Path))
        {
            var info = new FileInfo(model.Path);
            Text($"{info.Length} {info.LastWriteTimeUtc.Ticks}");
        }
        else if (Directory.Exists(model.Path))
        {
            foreach (var file in new DirectoryInfo(model.Path).EnumerateFiles().OrderBy(f => f.Name, StringComparer.Ordinal))
            {
                Text($"{file.Name} {file.Length} {file.LastWriteTimeUtc.Ticks}");
            }
        }
        foreach (var m in matrices)
        {
            Text($"{m.Name} {GgmlTypeInfo.Name(m.Type)} {m.Rows} {m.Columns}");
            // three 4 KiB samples of the data the packing reads: start, middle, end
            long size = m.ByteSize;
            int sample = (int)Math.Min(4096, size);
            foreach (long at in new[] { 0, (size - sample) / 2, size - sample })
            {
                hash.AppendData(new ReadOnlySpan<byte>(m.Data + at, sample));
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..32];
    }

    private static long AlignUp(long v) => (v + Align - 1) / Align * Align;

    private static byte[] Table(IReadOnlyList<WeightMatrix> matrices, out long[] packedOffsets, out long[] subOffsets, out long total)
    {
        packedOffsets = new long[matrices.Count];
        subOffsets = new long[matrices.Count];
        using var table = new MemoryStream();
        using var w = new BinaryWriter(table, Encoding.UTF8);
        // the table's length is not known until it is written: lay out the data after a bound on it
        long tableBound = matrices.Sum(m => 2 + Encoding.UTF8.GetByteCount(m.Name) + 12 + 32L);
        long at = AlignUp(HeaderBytes + tableBound);
        for (int i = 0; i < matrices.Count; i++)
        {
            var m = matrices[i];
            bool packed = m.Packed != null;
            long packedLength = packed ? m.PackedByteSize : 0;
            long subLength = packed && m.F16SubnormalColumns != null ? m.SubnormalWordCount * 8 : 0;
            packedOffsets[i] = packedLength > 0 ? at : 0;
            at = AlignUp(at + packedLength);
            subOffsets[i] = subLength > 0 ? at : 0;
            at = AlignUp(at + subLength);
            byte[] name = Encoding.UTF8.GetBytes(m.Name);
            w.Write((ushort)name.Length);
            w.Write(name);
            w.Write((int)m.Type);
            w.Write(m.Rows);
            w.Write(m.Columns);
            w.Write(packedOffsets[i]);
            w.Write(packedLength);
            w.Write(subOffsets[i]);
            w.Write(subLength);
        }
        w.Flush();
        total = at;
        return table.ToArray();
    }

    private static void Write(string path, IReadOnlyList<WeightMatrix> matrices)
    {
        byte[] table = Table(matrices, out long[] packedOffsets, out long[] subOffsets, out long total);
        var header = new byte[HeaderBytes];
        BinaryPrimitives.WriteInt64LittleEndian(header, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), matrices.Count);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), total);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(24), table.Length);
        SHA256.HashData(table).CopyTo(header.AsSpan(32));
        string temporary = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                file.SetLength(total);
                file.Write(header);
                file.Write(table);
                for (int i = 0; i < matrices.Count; i++)
                {
                    var m = matrices[i];
                    if (packedOffsets[i] != 0)
                    {
                        file.Position = packedOffsets[i];
                        WriteNative(file, m.Packed, m.PackedByteSize);
                    }
                    if (subOffsets[i] != 0)
                    {
                        file.Position = subOffsets[i];
                        WriteNative(file, (byte*)m.F16SubnormalColumns, m.SubnormalWordCount * 8);
                    }
                }
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private static void WriteNative(FileStream file, byte* p, long length)
    {
        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(1 << 30, length - done);
            file.Write(new ReadOnlySpan<byte>(p + done, n));
            done += n;
        }
    }

    /// <summary>Maps (or, guarded, reads) a cache file and points the matrices at it; null with the reason when it does not match them.</summary>
    private static PackedWeightsCache? TryOpen(string path, IReadOnlyList<WeightMatrix> matrices, out string? reason)
    {
        reason = null;
        PackedWeightsCache? cache = null;
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
            long length = RandomAccess.GetLength(handle);
            var header = new byte[HeaderBytes];
            if (length < HeaderBytes || RandomAccess.Read(handle, header, 0) != HeaderBytes)
            {
                reason = "shorter than its header";
                return null;
            }
            int tableLength = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(24));
            if (BinaryPrimitives.ReadInt64LittleEndian(header) != Magic || BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8)) != FormatVersion
                || BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(12)) != matrices.Count
                || BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(16)) != length
                || tableLength <= 0 || tableLength > length - HeaderBytes)
            {
                reason = "not a packed-weights file of this version for this model, or truncated";
                return null;
            }
            var table = new byte[tableLength];
            if (RandomAccess.Read(handle, table, HeaderBytes) != tableLength || !SHA256.HashData(table).AsSpan().SequenceEqual(header.AsSpan(32, 32)))
            {
                reason = "its table does not match its checksum";
                return null;
            }
            var entries = ReadTable(table, matrices, length, out reason);
            if (entries is null)
            {
                return null;
            }
            cache = new PackedWeightsCache(path);
            if (NativeAllocator.Guarded || !OperatingSystem.IsLinux())
            {
                cache.ReadPrivately(handle, matrices, entries);
            }
            else
            {
                cache.Map(handle, length, matrices, entries);
            }
            return cache;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            cache?.Dispose();
            reason = e.Message;
            return null;
        }
    }

    private readonly record struct Entry(long PackedOffset, long PackedLength, long SubOffset, long SubLength);

    private static Entry[]? ReadTable(byte[] table, IReadOnlyList<WeightMatrix> matrices, long fileLength, out string? reason)
    {
        using var r = new BinaryReader(new MemoryStream(table), Encoding.UTF8);
        var entries = new Entry[matrices.Count];
        try
        {
            for (int i = 0; i < matrices.Count; i++)
            {
                var m = matrices[i];
                string name = Encoding.UTF8.GetString(r.ReadBytes(r.ReadUInt16()));
                var type = (GgmlType)r.ReadInt32();
                int rows = r.ReadInt32(), columns = r.ReadInt32();
                var e = new Entry(r.ReadInt64(), r.ReadInt64(), r.ReadInt64(), r.ReadInt64());
                bool shapeMatches = name == m.Name && type == m.Type && rows == m.Rows && columns == m.Columns;
                bool lengthsMatch = (e.PackedLength == 0 && e.SubLength == 0)
                    || (e.PackedLength == m.PackedByteSize && e.SubLength == m.SubnormalWordCount * 8);
                bool inFile = e.PackedOffset >= 0 && e.PackedOffset % Align == 0 && e.PackedOffset + e.PackedLength <= fileLength
                    && e.SubOffset >= 0 && e.SubOffset % Align == 0 && e.SubOffset + e.SubLength <= fileLength;
                if (!shapeMatches || !lengthsMatch || !inFile)
                {
                    reason = $"its entry {i} ({name}) does not match the model's matrix {m.Name}";
                    return null;
                }
                entries[i] = e;
            }
        }
        catch (EndOfStreamException)
        {
            reason = "its table is cut short";
            return null;
        }
        reason = null;
        return entries;
    }

    private void Map(SafeFileHandle handle, long length, IReadOnlyList<WeightMatrix> matrices, Entry[] entries)
    {
        nint p = LinuxMemory.Mmap(0, (nuint)length, LinuxMemory.ProtRead, LinuxMemory.MapShared, (int)handle.DangerousGetHandle(), 0);
        if (p == LinuxMemory.MapFailed)
        {
            throw new IOException($"mmap of {Path} failed (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
        }
        _map = (byte*)p;
        _length = length;
        for (int i = 0; i < matrices.Count; i++)
        {
            var e = entries[i];
            matrices[i].UsePacked(e.PackedLength > 0 ? _map + e.PackedOffset : null, e.SubLength > 0 ? (ulong*)(_map + e.SubOffset) : null);
        }
    }

    private void ReadPrivately(SafeFileHandle handle, IReadOnlyList<WeightMatrix> matrices, Entry[] entries)
    {
        for (int i = 0; i < matrices.Count; i++)
        {
            var e = entries[i];
            byte* packed = e.PackedLength > 0 ? Read(handle, e.PackedOffset, e.PackedLength) : null;
            ulong* sub = e.SubLength > 0 ? (ulong*)Read(handle, e.SubOffset, e.SubLength) : null;
            matrices[i].UsePacked(packed, sub);
        }
    }

    private byte* Read(SafeFileHandle handle, long offset, long length)
    {
        var buffer = new NativeBuffer<byte>(length);
        _buffers.Add(buffer);
        for (long done = 0; done < length;)
        {
            int n = RandomAccess.Read(handle, new Span<byte>(buffer.Pointer + done, (int)Math.Min(1 << 30, length - done)), offset + done);
            if (n <= 0)
            {
                throw new IOException($"{Path} ended early");
            }
            done += n;
        }
        return buffer.Pointer;
    }

    public void Dispose()
    {
        if (_map != null)
        {
            _ = LinuxMemory.Munmap((nint)_map, (nuint)_length);
            _map = null;
        }
        foreach (var b in _buffers)
        {
            b.Dispose();
        }
        _buffers.Clear();
    }
}
