using System.Globalization;
using System.Text;

namespace Sluice.Server.Tests.Fuzzing;

/// <summary>
/// JSON written byte by byte, so a fuzzed body can hold what no serializer writes: raw invalid UTF-8 inside
/// strings, lone surrogate escapes, NaN, numbers beyond every integer type, duplicate keys.
/// </summary>
internal static class FuzzJson
{
    /// <summary>A JSON value as raw bytes.</summary>
    public static byte[] Raw(string ascii) => Encoding.ASCII.GetBytes(ascii);

    public static byte[] Int(long value) => Raw(value.ToString(CultureInfo.InvariantCulture));

    public static byte[] Num(double value) => Raw(value.ToString("R", CultureInfo.InvariantCulture));

    public static readonly byte[] Null = Raw("null");
    public static readonly byte[] True = Raw("true");
    public static readonly byte[] False = Raw("false");

    public static byte[] Bool(bool value) => value ? True : False;

    /// <summary>
    /// A string literal. Non-ASCII characters go out as UTF-8 or, with <paramref name="escapeNonAscii"/>, as
    /// \uXXXX escapes; a lone surrogate (which has no UTF-8 form) always as an escape.
    /// </summary>
    public static byte[] Str(string value, bool escapeNonAscii = false)
    {
        var b = new List<byte>(value.Length + 2) { (byte)'"' };
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            switch (c)
            {
                case '"':
                    b.AddRange("\\\""u8.ToArray());
                    continue;
                case '\\':
                    b.AddRange("\\\\"u8.ToArray());
                    continue;
                case '\n':
                    b.AddRange("\\n"u8.ToArray());
                    continue;
                case '\t':
                    b.AddRange("\\t"u8.ToArray());
                    continue;
            }
            if (c < 0x20 || (c >= 0x80 && escapeNonAscii))
            {
                AddEscape(b, c);
            }
            else if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                b.AddRange(Encoding.UTF8.GetBytes(value.Substring(i, 2)));
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                AddEscape(b, c);
            }
            else if (c < 0x80)
            {
                b.Add((byte)c);
            }
            else
            {
                b.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
            }
        }
        b.Add((byte)'"');
        return [.. b];
    }

    /// <summary>A string literal around raw bytes, as they are (invalid UTF-8 included).</summary>
    public static byte[] StrBytes(params byte[][] parts)
    {
        var b = new List<byte> { (byte)'"' };
        foreach (var p in parts)
        {
            b.AddRange(p);
        }
        b.Add((byte)'"');
        return [.. b];
    }

    public static byte[] Arr(IEnumerable<byte[]> items) => Join((byte)'[', items, (byte)']');

    public static byte[] Obj(IEnumerable<KeyValuePair<string, byte[]>> fields) =>
        Join((byte)'{', fields.Select(f => Concat(Str(f.Key), ": "u8.ToArray(), f.Value)), (byte)'}');

    public static byte[] Obj(params (string Key, byte[] Value)[] fields) =>
        Obj(fields.Select(f => KeyValuePair.Create(f.Key, f.Value)));

    public static byte[] Concat(params byte[][] parts)
    {
        var result = new byte[parts.Sum(p => p.Length)];
        int at = 0;
        foreach (var p in parts)
        {
            p.CopyTo(result, at);
            at += p.Length;
        }
        return result;
    }

    private static byte[] Join(byte open, IEnumerable<byte[]> items, byte close)
    {
        var b = new List<byte> { open };
        bool first = true;
        foreach (var item in items)
        {
            if (!first)
            {
                b.AddRange(", "u8.ToArray());
            }
            first = false;
            b.AddRange(item);
        }
        b.Add(close);
        return [.. b];
    }

    private static void AddEscape(List<byte> b, char c) =>
        b.AddRange(Encoding.ASCII.GetBytes("\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture)));

    /// <summary>Bytes for a report: printable ASCII as is, the rest as \xNN, cut to <paramref name="max"/> bytes.</summary>
    public static string Preview(byte[] bytes, int max = 400)
    {
        var s = new StringBuilder();
        int n = Math.Min(bytes.Length, max);
        for (int i = 0; i < n; i++)
        {
            byte x = bytes[i];
            s.Append(x is >= 0x20 and < 0x7f ? ((char)x).ToString() : "\\x" + x.ToString("x2", CultureInfo.InvariantCulture));
        }
        if (bytes.Length > max)
        {
            s.Append(CultureInfo.InvariantCulture, $"... ({bytes.Length} bytes in all)");
        }
        return s.ToString();
    }
}
