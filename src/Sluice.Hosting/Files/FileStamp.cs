namespace Sluice.Hosting.Files;

/// <summary>What a set of files looked like at one moment: for each, whether it existed, its last write time and its length.</summary>
public sealed class FileStamp : IEquatable<FileStamp>
{
    private readonly (bool Exists, DateTime Written, long Length)[] _files;

    private FileStamp((bool, DateTime, long)[] files) => _files = files;

    /// <summary>The files as they are now; a missing file is recorded as missing, not an error.</summary>
    public static FileStamp Read(IReadOnlyList<string> paths)
    {
        var files = new (bool, DateTime, long)[paths.Count];
        for (int i = 0; i < paths.Count; i++)
        {
            var info = new FileInfo(paths[i]);
            files[i] = info.Exists ? (true, info.LastWriteTimeUtc, info.Length) : (false, default, 0);
        }
        return new FileStamp(files);
    }

    public bool Equals(FileStamp? other) => other is not null && _files.AsSpan().SequenceEqual(other._files);

    public override bool Equals(object? obj) => Equals(obj as FileStamp);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var file in _files)
        {
            hash.Add(file);
        }
        return hash.ToHashCode();
    }
}
