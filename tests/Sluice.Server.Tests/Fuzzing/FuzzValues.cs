using System.Text;
using static Sluice.Server.Tests.Fuzzing.FuzzJson;

namespace Sluice.Server.Tests.Fuzzing;

/// <summary>A generated JSON value and what it is, for the report; <paramref name="BreaksJson"/> when it is not JSON at all (NaN, 0x10).</summary>
internal readonly record struct FuzzValue(byte[] Json, string Label, bool BreaksJson = false);

/// <summary>Random JSON values: text in every shape Unicode allows and some it does not, numbers at every edge, wrong types.</summary>
internal sealed class FuzzValues(Random rng)
{
    private static readonly string[] Words = ["hello", "world", "the", "quick", "brown", "fox", "tell", "me", "a", "story", "about", "sluice", "gates", "and", "rivers", "x", "42", "?"];
    private static readonly string[] Emoji = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "🏳️‍🌈", "❤️", "🧪", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "🀄", "🫠"];
    private static readonly string[] Scripts = ["日本語のテキスト", "中文文本", "한국어", "עברית מימין לשמאל", "العربية", "Ελληνικά", "русский текст", "हिन्दी", "ไทย", "\u202eRTL override\u202c"];
    private static readonly string[] Special = ["<|endoftext|>", "<|im_start|>user\n", "<|im_end|>", "<s>", "</s>", "[INST]", "<|eot_id|>", "<unk>", "<pad>"];
    private static readonly string[] Controls = ["\0", "\u0001", "\u007f", "\u0085", "\u2028", "\u2029", "\ufeff", "\r\n", "\ufffe", "\uffff", "\udbff\udfff", "\u200b\u200d"];

    // raw byte sequences that are not UTF-8
    private static readonly (byte[] Bytes, string Label)[] BadUtf8 =
    [
        ([0xff], "byte 0xFF"),
        ([0xfe, 0xfe], "bytes 0xFE 0xFE"),
        ([0xc3], "truncated 2-byte sequence"),
        ([0xc0, 0xaf], "overlong '/'"),
        ([0xe0, 0x80, 0xaf], "overlong 3-byte"),
        ([0xed, 0xa0, 0x80], "UTF-8-encoded surrogate U+D800"),
        ([0xf4, 0x90, 0x80, 0x80], "code point above U+10FFFF"),
        ([0xf0, 0x9f, 0x98], "truncated 4-byte emoji"),
        ([0x80], "lone continuation byte"),
        ([0xe2, 0x28, 0xa1], "bad continuation"),
    ];

    private static readonly string[] LoneSurrogates = ["\\ud800", "\\udfff", "\\ud83d", "\\ude00\\ud83d", "\\ud83d\\u0041"];

    public Random Rng => rng;

    public bool Chance(double p) => rng.NextDouble() < p;

    public T Pick<T>(IReadOnlyList<T> items) => items[rng.Next(items.Count)];

    public string Sentence(int minWords = 1, int maxWords = 8) =>
        string.Join(' ', Enumerable.Range(0, rng.Next(minWords, maxWords + 1)).Select(_ => Pick(Words)));

    /// <summary>Valid text: words, emoji, combining marks, other scripts, special-token text.</summary>
    public FuzzValue ValidText()
    {
        switch (rng.Next(8))
        {
            case 0:
                return new(Str(Pick(Emoji) + " " + Sentence() + " " + Pick(Emoji)), "emoji");
            case 1:
                {
                    var s = new StringBuilder("e");
                    int marks = rng.Next(1, 40);
                    for (int i = 0; i < marks; i++)
                    {
                        s.Append((char)(0x0300 + rng.Next(0x70)));
                    }
                    return new(Str(Sentence() + " " + s), $"{marks} combining marks");
                }
            case 2:
                return new(Str(Pick(Scripts) + " " + Sentence(), escapeNonAscii: Chance(0.5)), "other scripts");
            case 3:
                return new(Str(Pick(Special) + Sentence()), "special-token text");
            default:
                return new(Str(Sentence()), "words");
        }
    }

    /// <summary>Any text: valid, edge (empty, control characters, long) or invalid (lone surrogates, raw invalid UTF-8).</summary>
    public FuzzValue AnyText(int contextChars)
    {
        switch (rng.Next(17))
        {
            case 0:
                return new(Str(""), "empty string");
            case 14 or 15:
                {
                    // invalid text alone, or in the middle of valid text
                    bool lone = Chance(0.5);
                    if (lone)
                    {
                        string escape = Pick(LoneSurrogates);
                        return new(StrBytes(Encoding.ASCII.GetBytes(escape)), $"lone surrogate escape {escape} alone");
                    }
                    var (raw, what) = Pick(BadUtf8);
                    return new(StrBytes(raw), "raw invalid UTF-8 alone: " + what);
                }
            case 1:
                return new(Str(" \n\t  "), "whitespace only");
            case 2:
                return new(Str(Sentence() + Pick(Controls) + Sentence()), "control/non-character");
            case 3:
                {
                    string lone = Pick(LoneSurrogates);
                    return new(StrBytes(Encoding.ASCII.GetBytes(Sentence() + " "), Encoding.ASCII.GetBytes(lone), Encoding.ASCII.GetBytes(" " + Sentence())), $"lone surrogate escape {lone}");
                }
            case 4:
                {
                    var (bytes, label) = Pick(BadUtf8);
                    return new(StrBytes(Encoding.ASCII.GetBytes(Sentence() + " "), bytes, Encoding.ASCII.GetBytes(" tail")), "raw invalid UTF-8: " + label);
                }
            case 5:
                {
                    int n = contextChars + rng.Next(-8, 9);
                    return new(Str(Repeat(Math.Max(1, n))), $"text of {n} chars (~context)");
                }
            case 6:
                {
                    int n = rng.Next(2_000, 40_000);
                    return new(Str(Repeat(n)), $"large text of {n} chars");
                }
            case 7:
                return new(Str(string.Concat(Enumerable.Repeat(Pick(Emoji), rng.Next(50, 400)))), "many emoji");
            case 8:
                return new(Str(Sentence(), escapeNonAscii: true), "words");
            default:
                return ValidText();
        }
    }

    /// <summary>Text that is not Unicode: a lone surrogate escape or raw invalid UTF-8, alone or inside valid text.</summary>
    public FuzzValue InvalidText()
    {
        string before = Chance(0.5) ? Sentence() + " " : "";
        string after = Chance(0.5) ? " " + Sentence() : "";
        if (Chance(0.5))
        {
            string escape = Pick(LoneSurrogates);
            return new(StrBytes(Encoding.ASCII.GetBytes(before + escape + after)), $"lone surrogate escape {escape}");
        }
        var (raw, what) = Pick(BadUtf8);
        return new(StrBytes(Encoding.UTF8.GetBytes(before), raw, Encoding.UTF8.GetBytes(after)), "raw invalid UTF-8: " + what);
    }

    private string Repeat(int chars)
    {
        var s = new StringBuilder(chars);
        while (s.Length < chars)
        {
            s.Append(Pick(Words)).Append(' ');
        }
        return s.ToString(0, chars);
    }

    /// <summary>A value of a JSON type the field does not take (or of a surprising one).</summary>
    public FuzzValue WrongType()
    {
        return rng.Next(14) switch
        {
            0 => new(Null, "null"),
            1 => new(True, "true"),
            2 => new(False, "false"),
            3 => new(Str(""), "empty string"),
            4 => new(Str("5"), "numeric string"),
            5 => new(Str(Sentence()), "string"),
            6 => new(Raw("[]"), "empty array"),
            7 => new(Raw("[1, 2, 3]"), "array of numbers"),
            8 => new(Raw("[\"a\", null]"), "array with null"),
            9 => new(Raw("{}"), "empty object"),
            10 => new(Raw("{\"a\": {\"b\": [1, {\"c\": null}]}}"), "nested object"),
            11 => new(Raw("1.5"), "fraction"),
            12 => new(Raw("-7"), "negative number"),
            _ => new(Raw("1e400"), "number beyond double"),
        };
    }

    /// <summary>Integers at and past every edge: 0, negatives, the limits of int and long, fractions, exponents.</summary>
    public FuzzValue EdgeInt(params int[] interesting)
    {
        if (interesting.Length > 0 && Chance(0.5))
        {
            int v = Pick(interesting);
            return new(Int(v), v.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        string[] raw = ["0", "-1", "1", "2147483647", "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808", "99999999999999999999999", "1e3", "1.0", "2.5", "-0", "1E+2"];
        string r = Pick(raw);
        return new(Raw(r), r);
    }

    /// <summary>Floats at and past every edge, and the literals JSON does not have.</summary>
    public FuzzValue EdgeFloat(params double[] interesting)
    {
        if (interesting.Length > 0 && Chance(0.5))
        {
            double v = Pick(interesting);
            return new(Num(v), Encoding.ASCII.GetString(Num(v)));
        }
        string[] raw = ["0", "-0.0", "1e-45", "1e-300", "0.5", "1", "2", "-2.0001", "100", "100.0001", "3.5e38", "1e309", "-1e309", "NaN", "Infinity", "-Infinity", "0x10", ".5", "1.", "01"];
        string r = Pick(raw);
        return new(Raw(r), r, BreaksJson: r is "NaN" or "Infinity" or "-Infinity" or "0x10" or ".5" or "1." or "01");
    }
}
