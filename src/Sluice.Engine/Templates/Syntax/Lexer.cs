using Sluice.Engine.Templates.Runtime;

namespace Sluice.Engine.Templates.Syntax;

/// <summary>
/// Splits template source into text and tag tokens with Jinja's whitespace control under the options HF
/// renders chat templates with: <c>trim_blocks</c> (a statement or comment tag eats the one newline after
/// it), <c>lstrip_blocks</c> (spaces and tabs before a statement or comment tag that starts its line are
/// dropped) and the default <c>keep_trailing_newline=False</c> (one final newline of the source is dropped).
/// <c>-</c> inside a delimiter strips all whitespace on that side; <c>+</c> turns the options off there.
/// </summary>
internal sealed partial class Lexer
{
    private readonly string _source;
    private readonly int[] _lineStarts;
    private readonly List<Token> _tokens = [];
    private int _pos;

    private Lexer(string source)
    {
        // Jinja normalises every newline sequence to "\n" before anything else looks at the text.
        source = source.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        if (source.EndsWith('\n'))
        {
            source = source[..^1];
        }

        _source = source;
        var starts = new List<int> { 0 };
        for (var i = 0; i < source.Length; i++)
        {
            if (source[i] == '\n')
            {
                starts.Add(i + 1);
            }
        }

        _lineStarts = [.. starts];
    }

    public static List<Token> Tokenize(string source)
    {
        var lexer = new Lexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private void Run()
    {
        while (_pos < _source.Length)
        {
            var tagStart = FindTagStart(_pos);
            if (tagStart < 0)
            {
                EmitText(_source[_pos..], _pos);
                break;
            }

            var kind = _source[tagStart + 1];
            var inner = tagStart + 2;
            var modifier = inner < _source.Length ? _source[inner] : '\0';
            if (modifier is '-' or '+')
            {
                inner++;
            }

            var text = ApplyLeftControl(_source[_pos..tagStart], _pos, kind != '{', modifier);
            EmitText(text, _pos);

            switch (kind)
            {
                case '#':
                    LexComment(tagStart, inner);
                    break;
                case '%' when TryMatchRaw(inner, out var rawEnd):
                    LexRaw(rawEnd);
                    break;
                case '%':
                    LexTag(tagStart, inner, TokenKind.BlockBegin, TokenKind.BlockEnd, '%');
                    break;
                default:
                    LexTag(tagStart, inner, TokenKind.VariableBegin, TokenKind.VariableEnd, '}');
                    break;
            }
        }

        _tokens.Add(new Token(TokenKind.EndOfInput, "", PositionOf(_source.Length)));
    }

    private int FindTagStart(int from)
    {
        var i = from;
        while (true)
        {
            i = _source.IndexOf('{', i);
            if (i < 0 || i + 1 >= _source.Length)
            {
                return -1;
            }

            if (_source[i + 1] is '{' or '%' or '#')
            {
                return i;
            }

            i++;
        }
    }

    /// <summary>Whitespace control on the text before a tag: <c>-</c> strips, <c>lstrip_blocks</c> drops indentation.</summary>
    private string ApplyLeftControl(string text, int textStart, bool isStatementOrComment, char modifier)
    {
        if (modifier == '-')
        {
            return PyText.TrimEnd(text);
        }

        if (!isStatementOrComment || modifier == '+')
        {
            return text;
        }

        var lineStart = text.LastIndexOf('\n') + 1;
        var startsLine = lineStart > 0 || textStart == 0 || _source[textStart - 1] == '\n';
        if (!startsLine)
        {
            return text;
        }

        for (var i = lineStart; i < text.Length; i++)
        {
            if (text[i] is not (' ' or '\t'))
            {
                return text;
            }
        }

        return text[..lineStart];
    }

    /// <summary>Whitespace control after a closing delimiter whose modifier is <paramref name="modifier"/>.</summary>
    private void ApplyRightControl(char modifier, bool trimBlock)
    {
        if (modifier == '-')
        {
            while (_pos < _source.Length && PyText.IsSpace(_source[_pos]))
            {
                _pos++;
            }
        }
        else if (modifier != '+' && trimBlock && _pos < _source.Length && _source[_pos] == '\n')
        {
            _pos++;
        }
    }

    private void LexComment(int tagStart, int inner)
    {
        var end = _source.IndexOf("#}", inner, StringComparison.Ordinal);
        if (end < 0)
        {
            throw PositionOf(tagStart).SyntaxError("Missing end of comment tag");
        }

        var modifier = end > inner && _source[end - 1] is '-' or '+' ? _source[end - 1] : '\0';
        _pos = end + 2;
        ApplyRightControl(modifier, trimBlock: true);
    }

    /// <summary>Matches <c>raw %}</c> (with optional whitespace and modifiers) right after <c>{%</c>.</summary>
    private bool TryMatchRaw(int inner, out int afterTag)
    {
        afterTag = 0;
        var i = SkipSpaces(inner);
        if (string.CompareOrdinal(_source, i, "raw", 0, 3) != 0)
        {
            return false;
        }

        i = SkipSpaces(i + 3);
        var modifier = '\0';
        if (i < _source.Length && _source[i] is '-' or '+')
        {
            modifier = _source[i];
            i++;
        }

        if (string.CompareOrdinal(_source, i, "%}", 0, 2) != 0)
        {
            return false;
        }

        _pos = i + 2;
        // The opening raw tag honours "-%}" but, unlike other statements, not trim_blocks.
        ApplyRightControl(modifier, trimBlock: false);
        afterTag = _pos;
        return true;
    }

    private void LexRaw(int contentStart)
    {
        var search = contentStart;
        while (true)
        {
            var open = _source.IndexOf("{%", search, StringComparison.Ordinal);
            if (open < 0)
            {
                throw PositionOf(contentStart).SyntaxError("Missing end of raw directive");
            }

            var i = open + 2;
            var leftModifier = '\0';
            if (i < _source.Length && _source[i] is '-' or '+')
            {
                leftModifier = _source[i];
                i++;
            }

            i = SkipSpaces(i);
            if (string.CompareOrdinal(_source, i, "endraw", 0, 6) == 0)
            {
                i = SkipSpaces(i + 6);
                var rightModifier = '\0';
                if (i < _source.Length && _source[i] is '-' or '+')
                {
                    rightModifier = _source[i];
                    i++;
                }

                if (string.CompareOrdinal(_source, i, "%}", 0, 2) == 0)
                {
                    var text = ApplyLeftControl(_source[contentStart..open], contentStart, true, leftModifier);
                    EmitText(text, contentStart);
                    _pos = i + 2;
                    ApplyRightControl(rightModifier, trimBlock: true);
                    return;
                }
            }

            search = open + 2;
        }
    }

    private int SkipSpaces(int i)
    {
        while (i < _source.Length && PyText.IsSpace(_source[i]))
        {
            i++;
        }

        return i;
    }

    private void EmitText(string text, int start)
    {
        if (text.Length > 0)
        {
            _tokens.Add(new Token(TokenKind.Text, text, PositionOf(start)));
        }
    }

    private SourcePosition PositionOf(int index)
    {
        var line = Array.BinarySearch(_lineStarts, index);
        if (line < 0)
        {
            line = ~line - 1;
        }

        return new SourcePosition(line + 1, index - _lineStarts[line] + 1);
    }
}
