namespace Sluice.Engine.Models.Synthesis.Vocabulary;

/// <summary>
/// GPT-2's byte-to-character table (bytes_to_unicode), which byte-level BPE vocabularies in GGUF use to
/// spell raw bytes as printable text: the 188 bytes that are visible Latin-1 characters stand for
/// themselves, and the other 68 (control characters, space, 0x7F-0xA0, 0xAD) map in increasing order to
/// U+0100 onwards, so a space is 'Ġ' (U+0120) and a newline 'Ċ' (U+010A).
/// </summary>
public static class ByteLevelUnicode
{
    public static char ForByte(byte b)
    {
        if (IsPrintable(b))
        {
            return (char)b;
        }
        int shifted = 0;
        for (int i = 0; i < b; i++)
        {
            if (!IsPrintable((byte)i))
            {
                shifted++;
            }
        }
        return (char)(256 + shifted);
    }

    /// <summary>The table for all 256 bytes.</summary>
    public static char[] Table()
    {
        var table = new char[256];
        for (int b = 0; b < 256; b++)
        {
            table[b] = ForByte((byte)b);
        }
        return table;
    }

    public static string Encode(ReadOnlySpan<byte> bytes, char[] table)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            chars[i] = table[bytes[i]];
        }
        return new string(chars);
    }

    private static bool IsPrintable(byte b) => b is >= (byte)'!' and <= (byte)'~' or >= 0xA1 and <= 0xAC or >= 0xAE;
}
