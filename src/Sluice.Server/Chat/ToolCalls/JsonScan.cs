namespace Sluice.Server.Chat.ToolCalls;

/// <summary>
/// Finds where JSON values end in text that is still arriving, without parsing them: the end of a value that is whole,
/// -1 for one that may still grow, and <see cref="Malformed"/> for text that cannot become a value.
/// </summary>
internal static class JsonScan
{
    public const int Malformed = -2;

    public static int SkipWhitespace(string s, int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i]))
        {
            i++;
        }
        return i;
    }

    /// <summary>The index just past the value starting at <paramref name="i"/>.</summary>
    public static int ValueEnd(string s, int i)
    {
        if (i >= s.Length)
        {
            return -1;
        }
        return s[i] switch
        {
            '"' => StringEnd(s, i),
            '{' or '[' => NestedEnd(s, i),
            '-' or (>= '0' and <= '9') or 't' or 'f' or 'n' => ScalarEnd(s, i),
            _ => Malformed,
        };
    }

    /// <summary>The index just past the string whose opening quote is at <paramref name="i"/>.</summary>
    public static int StringEnd(string s, int i)
    {
        for (int j = i + 1; j < s.Length; j++)
        {
            if (s[j] == '\\')
            {
                j++;
            }
            else if (s[j] == '"')
            {
                return j + 1;
            }
        }
        return -1;
    }

    private static int NestedEnd(string s, int i)
    {
        int depth = 0;
        for (int j = i; j < s.Length; j++)
        {
            switch (s[j])
            {
                case '"':
                    j = StringEnd(s, j);
                    if (j < 0)
                    {
                        return -1;
                    }
                    j--;
                    break;
                case '{' or '[':
                    depth++;
                    break;
                case '}' or ']':
                    if (--depth == 0)
                    {
                        return j + 1;
                    }
                    break;
            }
        }
        return -1;
    }

    // a number or literal ends at a delimiter; at the end of the text it may still grow
    private static int ScalarEnd(string s, int i)
    {
        int j = i;
        while (j < s.Length && (char.IsAsciiLetterOrDigit(s[j]) || s[j] is '-' or '+' or '.'))
        {
            j++;
        }
        return j < s.Length ? j : -1;
    }
}
