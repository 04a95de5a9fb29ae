using System.Globalization;

namespace Sluice.Cli.Options;

/// <summary>Sizes as operators write them: 512MiB, 2GiB, 1.5GB, 1048576.</summary>
internal static class ByteSize
{
    /// <summary>
    /// Parses a positive size of at most <see cref="long.MaxValue"/> bytes; a <see cref="FormatException"/>
    /// names <paramref name="flag"/> when given.
    /// </summary>
    public static long Parse(string text, string? flag = null)
    {
        string who = flag is null ? $"'{text}'" : $"{flag} '{text}'";
        var s = text.Trim();
        int i = 0;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
        {
            i++;
        }
        if (i == 0 || !double.TryParse(s[..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
        {
            throw new FormatException($"{who} is not a size (examples: 512MiB, 2GiB, 1048576)");
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
            var u => throw new FormatException($"{who}: unknown size unit '{u}' (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"),
        };
        double bytes = Math.Floor(value * unit);
        // 2^63 as a double is one past long.MaxValue
        if (!(bytes >= 1 && bytes < 9.2233720368547758e18))
        {
            throw new FormatException($"{who} must be from 1 byte to {long.MaxValue} bytes");
        }
        return (long)bytes;
    }
}
