namespace Sluice.Server.Observability.Memory;

/// <summary>Reads /proc/self/smaps: how many bytes of a memory-mapped file are resident (Linux; 0 elsewhere).</summary>
internal static class MappedMemory
{
    public static long ResidentBytes(string path)
    {
        const string Smaps = "/proc/self/smaps";
        if (!File.Exists(Smaps))
        {
            return 0;
        }
        string full = Path.GetFullPath(path);
        long kb = 0;
        bool inside = false;
        try
        {
            foreach (var line in File.ReadLines(Smaps))
            {
                if (line.Length > 0 && char.IsAsciiHexDigit(line[0]) && line.Contains('-', StringComparison.Ordinal))
                {
                    inside = line.EndsWith(full, StringComparison.Ordinal) || (Directory.Exists(full) && line.Contains(full + "/", StringComparison.Ordinal));
                }
                else if (inside && line.StartsWith("Rss:", StringComparison.Ordinal)
                    && long.TryParse(line.AsSpan(4).Trim().TrimEnd("kB").Trim(), out long value))
                {
                    kb += value;
                }
            }
        }
        catch (IOException)
        {
            return 0;
        }
        return kb * 1024;
    }

    /// <summary>The model file's size, or the sum of a model folder's files.</summary>
    public static long FileBytes(string path) =>
        File.Exists(path) ? new FileInfo(path).Length
        : Directory.Exists(path) ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length)
        : 0;
}
