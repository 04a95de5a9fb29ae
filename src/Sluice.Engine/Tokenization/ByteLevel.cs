namespace Sluice.Engine.Tokenization;

/// <summary>
/// GPT-2's reversible map between bytes and printable characters, in which byte-level BPE
/// vocabularies are written: printable Latin-1 bytes stand for themselves and the other 68 bytes
/// (controls, space, DEL, NBSP, soft hyphen...) take U+0100 upwards in byte order (space is 'Ġ').
/// </summary>
internal static class ByteLevel
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly short[] CharToByte = BuildCharToByte(ByteToChar);

    public static char Encode(byte b) => ByteToChar[b];

    /// <summary>The byte a vocabulary character stands for, or -1 when it is not one of the 256.</summary>
    public static int Decode(char c) => c < CharToByte.Length ? CharToByte[c] : -1;

    private static bool IsPrintable(int b) => (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            map[b] = IsPrintable(b) ? (char)b : (char)next++;
        }
        return map;
    }

    private static short[] BuildCharToByte(char[] byteToChar)
    {
        var map = new short[512];
        Array.Fill(map, (short)-1);
        for (int b = 0; b < 256; b++)
        {
            map[byteToChar[b]] = (short)b;
        }
        return map;
    }
}
