using System.Globalization;
using System.Text;

namespace Sluice.Engine.Templates.Syntax;

/// <summary>The tokens inside <c>{{ }}</c> and <c>{% %}</c>: names, literals and operators.</summary>
internal sealed partial class Lexer
{
    private static readonly string[] TwoCharOperators = ["**", "//", "==", "!=", "<=", ">="];

    private const string OneCharOperators = "+-*/%~<>=()[]{},.:|";

    private void LexTag(int tagStart, int inner, TokenKind begin, TokenKind end, char closeChar)
    {
        _tokens.Add(new Token(begin, _source[tagStart..inner], PositionOf(tagStart)));
        _pos = inner;
        var depth = 0;
        while (true)
        {
            _pos = SkipSpaces(_pos);
            if (_pos >= _source.Length)
            {
                var what = begin == TokenKind.BlockBegin ? "statement" : "print";
                throw PositionOf(tagStart).SyntaxError($"unexpected end of template, the {what} tag is not closed");
            }

            // Closing delimiters count only while brackets are balanced, so "{{ {'a': {'b': 1}} }}" works.
            if (depth == 0 && TryClose(closeChar, out var modifier, out var closeStart))
            {
                _tokens.Add(new Token(end, _source[closeStart.._pos], PositionOf(closeStart)));
                ApplyRightControl(modifier, trimBlock: end == TokenKind.BlockEnd);
                return;
            }

            var c = _source[_pos];
            if (char.IsLetter(c) || c == '_')
            {
                LexName();
            }
            else if (char.IsAsciiDigit(c))
            {
                LexNumber();
            }
            else if (c is '\'' or '"')
            {
                LexString();
            }
            else
            {
                depth += LexOperator();
                if (depth < 0)
                {
                    throw PositionOf(_pos - 1).SyntaxError($"unexpected '{_source[_pos - 1]}'");
                }
            }
        }
    }

    private bool TryClose(char closeChar, out char modifier, out int start)
    {
        start = _pos;
        modifier = '\0';
        var i = _pos;
        if (_source[i] is '-' or '+')
        {
            modifier = _source[i];
            i++;
        }

        if (i + 1 < _source.Length && _source[i] == closeChar && _source[i + 1] == '}')
        {
            _pos = i + 2;
            return true;
        }

        modifier = '\0';
        return false;
    }

    private void LexName()
    {
        var start = _pos;
        while (_pos < _source.Length && (char.IsLetterOrDigit(_source[_pos]) || _source[_pos] == '_'))
        {
            _pos++;
        }

        _tokens.Add(new Token(TokenKind.Name, _source[start.._pos], PositionOf(start)));
    }

    private void LexNumber()
    {
        var start = _pos;
        if (_source[_pos] == '0' && _pos + 1 < _source.Length && char.ToLowerInvariant(_source[_pos + 1]) is 'x' or 'o' or 'b')
        {
            LexRadixInteger(start);
            return;
        }

        SkipDigits();
        var isFloat = false;
        if (_pos + 1 < _source.Length && _source[_pos] == '.' && char.IsAsciiDigit(_source[_pos + 1]))
        {
            isFloat = true;
            _pos++;
            SkipDigits();
        }

        if (_pos < _source.Length && _source[_pos] is 'e' or 'E')
        {
            var save = _pos;
            _pos++;
            if (_pos < _source.Length && _source[_pos] is '+' or '-')
            {
                _pos++;
            }

            if (_pos < _source.Length && char.IsAsciiDigit(_source[_pos]))
            {
                isFloat = true;
                SkipDigits();
            }
            else
            {
                _pos = save;
            }
        }

        var text = _source[start.._pos].Replace("_", "", StringComparison.Ordinal);
        var position = PositionOf(start);
        if (isFloat)
        {
            var value = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            _tokens.Add(new Token(TokenKind.Float, text, position) { Float = value });
        }
        else if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var integer))
        {
            _tokens.Add(new Token(TokenKind.Integer, text, position) { Integer = integer });
        }
        else
        {
            throw position.SyntaxError($"integer literal {text} does not fit in 64 bits");
        }
    }

    private void LexRadixInteger(int start)
    {
        var radix = char.ToLowerInvariant(_source[start + 1]) switch { 'x' => 16, 'o' => 8, _ => 2 };
        _pos = start + 2;
        long value = 0;
        var digits = 0;
        while (_pos < _source.Length)
        {
            var c = _source[_pos];
            var digit = char.IsAsciiDigit(c) ? c - '0' : char.IsAsciiLetter(c) ? char.ToLowerInvariant(c) - 'a' + 10 : c == '_' ? -2 : -1;
            if (digit == -2)
            {
                _pos++;
                continue;
            }

            if (digit < 0 || digit >= radix)
            {
                break;
            }

            value = checked((value * radix) + digit);
            digits++;
            _pos++;
        }

        if (digits == 0)
        {
            throw PositionOf(start).SyntaxError($"invalid integer literal '{_source[start.._pos]}'");
        }

        _tokens.Add(new Token(TokenKind.Integer, _source[start.._pos], PositionOf(start)) { Integer = value });
    }

    private void SkipDigits()
    {
        while (_pos < _source.Length && (char.IsAsciiDigit(_source[_pos]) || (_source[_pos] == '_' && _pos + 1 < _source.Length && char.IsAsciiDigit(_source[_pos + 1]))))
        {
            _pos++;
        }
    }

    /// <summary>A quoted string with Python's escapes (<c>unicode_escape</c>, which Jinja uses); unknown escapes stay as written.</summary>
    private void LexString()
    {
        var start = _pos;
        var quote = _source[_pos++];
        var value = new StringBuilder();
        while (true)
        {
            if (_pos >= _source.Length)
            {
                throw PositionOf(start).SyntaxError("unterminated string literal");
            }

            var c = _source[_pos++];
            if (c == quote)
            {
                break;
            }

            if (c != '\\' || _pos >= _source.Length)
            {
                value.Append(c);
                continue;
            }

            var e = _source[_pos++];
            switch (e)
            {
                case '\n': break;
                case '\\': value.Append('\\'); break;
                case '\'': value.Append('\''); break;
                case '"': value.Append('"'); break;
                case 'a': value.Append('\a'); break;
                case 'b': value.Append('\b'); break;
                case 'f': value.Append('\f'); break;
                case 'n': value.Append('\n'); break;
                case 'r': value.Append('\r'); break;
                case 't': value.Append('\t'); break;
                case 'v': value.Append('\v'); break;
                case 'x': AppendCodePoint(value, ReadHex(2, start)); break;
                case 'u': AppendCodePoint(value, ReadHex(4, start)); break;
                case 'U': AppendCodePoint(value, ReadHex(8, start)); break;
                case >= '0' and <= '7':
                    var octal = e - '0';
                    for (var n = 0; n < 2 && _pos < _source.Length && _source[_pos] is >= '0' and <= '7'; n++)
                    {
                        octal = (octal * 8) + (_source[_pos++] - '0');
                    }

                    AppendCodePoint(value, octal);
                    break;
                default:
                    value.Append('\\').Append(e);
                    break;
            }
        }

        _tokens.Add(new Token(TokenKind.String, value.ToString(), PositionOf(start)));
    }

    private int ReadHex(int count, int stringStart)
    {
        if (_pos + count > _source.Length
            || !int.TryParse(_source.AsSpan(_pos, count), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
        {
            throw PositionOf(stringStart).SyntaxError("truncated \\x, \\u or \\U escape in string literal");
        }

        _pos += count;
        return value;
    }

    private static void AppendCodePoint(StringBuilder value, int codePoint)
    {
        if (codePoint is < 0 or > 0x10FFFF)
        {
            throw new TemplateException(TemplateErrorKind.Syntax, "escape sequence out of the Unicode range");
        }

        if (codePoint is >= 0xD800 and <= 0xDFFF)
        {
            value.Append((char)codePoint);
        }
        else
        {
            value.Append(char.ConvertFromUtf32(codePoint));
        }
    }

    /// <summary>Reads one operator and returns how it changes bracket depth.</summary>
    private int LexOperator()
    {
        var start = _pos;
        foreach (var op in TwoCharOperators)
        {
            if (string.CompareOrdinal(_source, _pos, op, 0, 2) == 0)
            {
                _pos += 2;
                _tokens.Add(new Token(TokenKind.Operator, op, PositionOf(start)));
                return 0;
            }
        }

        var c = _source[_pos];
        if (!OneCharOperators.Contains(c, StringComparison.Ordinal))
        {
            throw PositionOf(start).SyntaxError($"unexpected char '{c}'");
        }

        _pos++;
        _tokens.Add(new Token(TokenKind.Operator, c.ToString(), PositionOf(start)));
        return c switch
        {
            '(' or '[' or '{' => 1,
            ')' or ']' or '}' => -1,
            _ => 0,
        };
    }
}
