using System.Globalization;

namespace Sluice.Engine.Tokenization;

/// <summary>
/// The codepoint properties the pre-tokenizer regexes ask about, with llama.cpp's meanings:
/// letter = \p{L}, number = \p{N}, whitespace = Unicode White_Space (25 codepoints, the set of
/// Python's <c>regex</c> \s that llama.cpp's tables were generated from). <see cref="Any"/> is set
/// for every real codepoint so that "no bits" can mean "past the end of the text".
/// </summary>
[Flags]
internal enum CodepointClass : byte
{
    None = 0,
    Any = 1,
    Letter = 2,
    Number = 4,
    Whitespace = 8,
}

internal static class Codepoints
{
    private static readonly CodepointClass[] Ascii = BuildAscii();

    public static CodepointClass Classify(int cp)
    {
        if (cp < 128)
        {
            return Ascii[cp];
        }
        if (IsWhitespace(cp))
        {
            return CodepointClass.Any | CodepointClass.Whitespace;
        }
        return CharUnicodeInfo.GetUnicodeCategory(cp) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CodepointClass.Any | CodepointClass.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber
                => CodepointClass.Any | CodepointClass.Number,
            _ => CodepointClass.Any,
        };
    }

    private static bool IsWhitespace(int cp) => cp switch
    {
        >= 0x09 and <= 0x0D or 0x20 or 0x85 or 0xA0 or 0x1680 => true,
        >= 0x2000 and <= 0x200A or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000 => true,
        _ => false,
    };

    private static CodepointClass[] BuildAscii()
    {
        var table = new CodepointClass[128];
        for (int c = 0; c < 128; c++)
        {
            var cls = CodepointClass.Any;
            if (IsWhitespace(c))
            {
                cls |= CodepointClass.Whitespace;
            }
            else if (char.IsAsciiLetter((char)c))
            {
                cls |= CodepointClass.Letter;
            }
            else if (char.IsAsciiDigit((char)c))
            {
                cls |= CodepointClass.Number;
            }
            table[c] = cls;
        }
        return table;
    }
}
