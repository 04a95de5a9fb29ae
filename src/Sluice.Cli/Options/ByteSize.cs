using System.Globalization;

namespace Sluice.Cli.Options;

/// <summary>Sizes as operators write them: 512MiB, 2GiB, 1.5GB, 1048576.</summary>
internal static class ByteSize
{
    public static long Parse(string text)
    {
        var s = text.Trim();
        int i = 0;
        while (i < s.Length && (char.IsDigit(s[i]) || s[i] == '.'))
        {
            i++;
        }
        if (i == 0 || !double.TryParse(s[..i], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            throw new FormatException($"'{text}' is not a size (examples: 512MiB, 2GiB, 1048576)");
        }
        long unit = s[i..].Trim().ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KB" => 1000,
            "KI" or "KIB" => 1024,
            "M" or "MB" => 1000_000,
            "MI" or "MIB" => 1 << 20,
            "G" or "GB" => 1000_000_000,
            "GI" or "GIB" => 1L << 30,
            "T" or "TB" => 1000_000_000_000,
            "TI" or "TIB" => 1L << 40,
            var u => throw new FormatException($"'{text}': unknown size unit '{u}' (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"),
        };
        return checked((long)(value * unit));
    }
}
