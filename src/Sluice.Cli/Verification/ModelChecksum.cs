using System.Globalization;
using System.Security.Cryptography;

namespace Sluice.Cli.Verification;

/// <summary>
/// SHA-256 checks of model files, so a corrupt or swapped file is refused before it is served. Expected
/// sums come as one hex digest (for a single file) or a manifest in <c>sha256sum</c>'s format
/// (<c>HEX  relative/path</c> per line; paths relative to the manifest's folder).
/// </summary>
internal static class ModelChecksum
{
    /// <summary>One file's result.</summary>
    public sealed record FileResult(string Path, string Actual, string? Expected)
    {
        public bool Ok => Expected is null || string.Equals(Actual, Expected, StringComparison.OrdinalIgnoreCase);
    }

    private sealed record ManifestEntry(string Digest, string Path);

    public static string Sha256(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Checks <paramref name="model"/> (a file or a folder) against a digest or a manifest; every file the manifest names is checked.</summary>
    public static IReadOnlyList<FileResult> Check(string model, string? sha256, string? manifest)
    {
        if (sha256 is not null && manifest is not null)
        {
            throw new ArgumentException("give --sha256 or --manifest, not both");
        }
        if (sha256 is not null)
        {
            if (!File.Exists(model))
            {
                throw new ArgumentException($"--sha256 checks a single file; {model} is not one (use --manifest for a folder)");
            }
            return [new FileResult(model, Sha256(model), Digest(sha256, "--sha256"))];
        }
        if (manifest is not null)
        {
            var entries = ReadManifest(manifest);
            string baseDir = Path.GetDirectoryName(Path.GetFullPath(manifest))!;
            if (File.Exists(model))
            {
                string name = Path.GetFileName(model);
                var entry = entries.FirstOrDefault(e => Path.GetFileName(e.Path) == name)
                    ?? throw new ArgumentException($"{manifest} has no entry for {name}");
                return [new FileResult(model, Sha256(model), entry.Digest)];
            }
            if (!Directory.Exists(model))
            {
                throw new FileNotFoundException($"model not found: {model}");
            }
            return [.. entries.Select(e =>
            {
                string file = Path.Combine(model, e.Path);
                if (!File.Exists(file))
                {
                    file = Path.Combine(baseDir, e.Path);
                }
                return File.Exists(file) ? new FileResult(file, Sha256(file), e.Digest) : new FileResult(file, "(missing)", e.Digest);
            })];
        }
        if (File.Exists(model))
        {
            return [new FileResult(model, Sha256(model), null)];
        }
        return Directory.Exists(model)
            ? [.. Directory.EnumerateFiles(model).Order(StringComparer.Ordinal).Select(f => new FileResult(f, Sha256(f), null))]
            : throw new FileNotFoundException($"model not found: {model}");
    }

    /// <summary>
    /// serve --verify-checksum: a hex digest or a manifest path. Throws <see cref="InvalidDataException"/> naming
    /// each file that does not match.
    /// </summary>
    public static void Require(string model, string expected)
    {
        bool isDigest = expected.Length == 64 && expected.All(char.IsAsciiHexDigit) && !File.Exists(expected);
        var results = isDigest ? Check(model, expected, null) : Check(model, null, expected);
        var bad = results.Where(r => !r.Ok).ToList();
        if (bad.Count > 0)
        {
            throw new InvalidDataException("checksum mismatch (--verify-checksum): " + string.Join("; ",
                bad.Select(b => $"{b.Path} has sha256 {b.Actual} but {b.Expected} was expected")) + ". The file is corrupt or not the one released; refusing to serve it.");
        }
    }

    private static string Digest(string value, string what)
    {
        string hex = value.Trim();
        return hex.Length == 64 && hex.All(char.IsAsciiHexDigit)
            ? hex.ToLower(CultureInfo.InvariantCulture)
            : throw new ArgumentException($"{what}: '{value}' is not a SHA-256 digest (64 hex digits)");
    }

    private static List<ManifestEntry> ReadManifest(string manifest)
    {
        var entries = new List<ManifestEntry>();
        foreach (var raw in File.ReadLines(manifest))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space < 0)
            {
                throw new FormatException($"{manifest}: '{line}' is not 'SHA256  PATH'");
            }
            string path = line[(space + 1)..].TrimStart(' ', '*'); // sha256sum marks binary mode with '*'
            entries.Add(new ManifestEntry(Digest(line[..space], manifest), path));
        }
        return entries.Count > 0 ? entries : throw new FormatException($"{manifest}: no checksums in it");
    }
}
