namespace Sluice.Engine.Tokenization;

/// <summary>A piece of the input: a special token already decided, or a span of text still to tokenize.</summary>
internal readonly record struct Fragment(int TokenId, int Start, int Length)
{
    public bool IsText => TokenId < 0;

    public static Fragment Text(int start, int length) => new(-1, start, length);
}

/// <summary>
/// llama.cpp's tokenizer_st_partition: special tokens are cut out of the text before anything else,
/// longest first, each at every non-overlapping occurrence left to right. Control and unknown
/// tokens only when special parsing is on; user-defined tokens always. Tokens flagged lstrip/rstrip
/// also swallow the ASCII whitespace beside them.
/// </summary>
internal static class SpecialTokenSplitter
{
    public static List<Fragment> Split(string text, Vocabulary vocab, bool parseSpecial)
    {
        var fragments = new List<Fragment>();
        if (text.Length == 0)
        {
            return fragments;
        }
        fragments.Add(Fragment.Text(0, text.Length));
        var next = new List<Fragment>();
        foreach (int id in vocab.SpecialTokens)
        {
            var attributes = vocab.Attributes(id);
            if (!parseSpecial && (attributes & (TokenAttributes.Control | TokenAttributes.Unknown)) != 0)
            {
                continue;
            }
            string token = vocab.Text(id);
            if (!text.Contains(token, StringComparison.Ordinal))
            {
                continue;
            }
            next.Clear();
            foreach (var fragment in fragments)
            {
                if (fragment.IsText)
                {
                    SplitFragment(text, fragment, id, token, attributes, next);
                }
                else
                {
                    next.Add(fragment);
                }
            }
            (fragments, next) = (next, fragments);
        }
        return fragments;
    }

    private static void SplitFragment(string text, Fragment fragment, int id, string token, TokenAttributes attributes, List<Fragment> output)
    {
        int offset = fragment.Start;
        int length = fragment.Length;
        while (true)
        {
            int found = text.AsSpan(offset, length).IndexOf(token, StringComparison.Ordinal);
            if (found < 0)
            {
                output.Add(Fragment.Text(offset, length));
                return;
            }
            int leftLength = found;
            if ((attributes & TokenAttributes.LStrip) != 0)
            {
                while (leftLength > 0 && IsCSpace(text[offset + leftLength - 1]))
                {
                    leftLength--;
                }
            }
            if (leftLength > 0)
            {
                output.Add(Fragment.Text(offset, leftLength));
            }
            output.Add(new Fragment(id, 0, 0));
            int rightStart = offset + found + token.Length;
            int rightLength = offset + length - rightStart;
            if ((attributes & TokenAttributes.RStrip) != 0)
            {
                while (rightLength > 0 && IsCSpace(text[rightStart]))
                {
                    rightStart++;
                    rightLength--;
                }
            }
            if (rightLength <= 0)
            {
                return;
            }
            offset = rightStart;
            length = rightLength;
        }
    }

    /// <summary>C's isspace in the "C" locale, which is what llama.cpp strips with.</summary>
    private static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';
}
