using System.Text;
using System.Text.Json;

namespace Sluice.Server.Chat.ToolCalls;

/// <summary>
/// What is known so far of a call object <c>{"name": "f", "arguments": {...}}</c> in text still arriving: the name once
/// its string is whole, where the arguments' value starts and (once whole) ends, and whether the object is whole,
/// cannot be a call, or may still grow. Keys may come in any order; <c>parameters</c> stands for <c>arguments</c>.
/// </summary>
internal readonly record struct CallObject(string? Name, int ArgumentsStart, int ArgumentsEnd, int End, bool Malformed)
{
    public bool Whole => End >= 0;

    /// <summary>Reads the object whose <c>{</c> is at <paramref name="start"/>.</summary>
    public static CallObject Read(string s, int start)
    {
        string? name = null;
        int argsStart = -1, argsEnd = -1;
        int i = JsonScan.SkipWhitespace(s, start + 1);
        CallObject Partial() => new(name, argsStart, argsEnd, -1, false);
        CallObject Bad() => new(name, argsStart, argsEnd, -1, true);
        if (i < s.Length && s[i] == '}')
        {
            return new(name, argsStart, argsEnd, i + 1, false);
        }
        while (true)
        {
            if (i >= s.Length)
            {
                return Partial();
            }
            if (s[i] != '"')
            {
                return Bad();
            }
            int keyEnd = JsonScan.StringEnd(s, i);
            if (keyEnd < 0)
            {
                return Partial();
            }
            string key = s[(i + 1)..(keyEnd - 1)];
            i = JsonScan.SkipWhitespace(s, keyEnd);
            if (i >= s.Length)
            {
                return Partial();
            }
            if (s[i] != ':')
            {
                return Bad();
            }
            i = JsonScan.SkipWhitespace(s, i + 1);
            if (i >= s.Length)
            {
                return Partial();
            }
            bool isArguments = key is "arguments" or "parameters";
            if (isArguments)
            {
                argsStart = i;
            }
            int end = JsonScan.ValueEnd(s, i);
            if (end == JsonScan.Malformed)
            {
                return Bad();
            }
            if (end < 0)
            {
                return Partial();
            }
            if (isArguments)
            {
                argsEnd = end;
            }
            else if (key == "name")
            {
                if (s[i] != '"')
                {
                    return Bad();
                }
                name = Decode(s[i..end]);
                if (name is null)
                {
                    return Bad();
                }
            }
            i = JsonScan.SkipWhitespace(s, end);
            if (i >= s.Length)
            {
                return Partial();
            }
            if (s[i] == '}')
            {
                return new(name, argsStart, argsEnd, i + 1, false);
            }
            if (s[i] != ',')
            {
                return Bad();
            }
            i = JsonScan.SkipWhitespace(s, i + 1);
        }
    }

    /// <summary>A character of a function name as Mistral writes it before <c>[ARGS]</c>.</summary>
    public static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.';

    /// <summary>
    /// Reads a call written <c>name[ARGS]{...}</c> (<paramref name="marker"/> between them) from <paramref name="start"/>:
    /// the name is known once the arguments' <c>{</c> has come, so a call never starts without them.
    /// </summary>
    public static CallObject ReadNamed(string s, int start, string marker)
    {
        int j = start;
        while (j < s.Length && IsNameChar(s[j]))
        {
            j++;
        }
        var partial = new CallObject(null, -1, -1, -1, false);
        var bad = new CallObject(null, -1, -1, -1, true);
        if (j == start)
        {
            return bad;
        }
        if (s.Length - j < marker.Length)
        {
            return marker.StartsWith(s[j..], StringComparison.Ordinal) ? partial : bad;
        }
        if (string.CompareOrdinal(s, j, marker, 0, marker.Length) != 0)
        {
            return bad;
        }
        int a = JsonScan.SkipWhitespace(s, j + marker.Length);
        if (a >= s.Length)
        {
            return partial;
        }
        if (s[a] != '{')
        {
            return bad;
        }
        string name = s[start..j];
        int end = JsonScan.ValueEnd(s, a);
        return end == JsonScan.Malformed ? bad : end < 0 ? new(name, a, -1, -1, false) : new(name, a, end, end, false);
    }

    /// <summary>A JSON string literal's value, or null when it is not one.</summary>
    public static string? Decode(string literal)
    {
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(literal));
            return reader.Read() && reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
