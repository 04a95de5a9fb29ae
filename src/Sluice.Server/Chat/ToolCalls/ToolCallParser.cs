using System.Text;
using Sluice.OpenAi;

namespace Sluice.Server.Chat.ToolCalls;

/// <summary>
/// Splits one choice's output, as it arrives, into content and OpenAI's tool_calls deltas (index, id, type and name
/// once, then the arguments a piece at a time). A run of calls starts at one of the family's openers, or at the very
/// start of the reply with <c>{</c> or <c>[</c>; a call counts once its name is whole and names an offered function,
/// else its text is content after all. Text that may still turn into an opener or a call is held back, and so is
/// whitespace that may turn out to stand before one. The answer of a request that does not stream is this parser fed
/// the whole text at once, so a stream reassembles into it exactly. With <c>parallel_tool_calls</c> false the output
/// after the first call is dropped.
/// </summary>
internal sealed class ToolCallParser(ToolCallFormat format, IReadOnlySet<string> offered, bool parallel, Func<int, string> idOf)
{
    private enum Mode
    {
        Start,   // nothing but whitespace yet: a call may start without an opener
        Content,
        Calls,   // inside a run of calls
        Ignore,  // after the one call parallel_tool_calls false allows
    }

    private readonly StringBuilder _all = new();
    private string _s = "";
    private int _pos; // the text before it has been dealt with
    private Mode _mode = Mode.Start;
    private int _runStart; // where the current run of calls began: its opener or its first bracket
    private int _runCalls;
    private bool _headerSent; // the call being read has sent its id and name
    private int _argumentsSent; // the text before it was sent as the call's arguments

    /// <summary>The calls made so far.</summary>
    public int Calls { get; private set; }

    /// <summary>Adds text; <paramref name="final"/> on the last piece. Returns the content and calls it made certain.</summary>
    public ToolCallPiece Push(string text, bool final)
    {
        _all.Append(text);
        _s = _all.ToString();
        var piece = new ToolCallPiece();
        while (Step(final, piece))
        {
        }
        return piece;
    }

    /// <summary>One move; false when it needs more text.</summary>
    private bool Step(bool final, ToolCallPiece piece)
    {
        switch (_mode)
        {
            case Mode.Start:
                int first = JsonScan.SkipWhitespace(_s, _pos);
                if (first == _s.Length)
                {
                    if (final)
                    {
                        piece.Content.Append(_s, _pos, _s.Length - _pos);
                        _pos = _s.Length;
                    }
                    return false;
                }
                string rest = _s[first..];
                if (format.Openers.Any(o => rest.StartsWith(o, StringComparison.Ordinal)))
                {
                    _mode = Mode.Content;
                    return true;
                }
                if (!final && format.Openers.Any(o => o.StartsWith(rest, StringComparison.Ordinal)))
                {
                    return false; // may be an opener, such as Mistral's, that starts with a bracket
                }
                if (_s[first] is '{' or '[')
                {
                    StartRun(_pos, _pos);
                }
                else if (format.ArgumentsMarker is { } marker && CallObject.IsNameChar(_s[first]))
                {
                    // name[ARGS]{...} with its [TOOL_CALLS] not rendered: a call only when it names an offered function
                    var named = CallObject.ReadNamed(_s, first, marker);
                    bool couldBe = !named.Malformed && offered.Any(o => o.StartsWith(NameAt(first), StringComparison.Ordinal));
                    if (couldBe && named.Name is null && !final)
                    {
                        return false;
                    }
                    if (couldBe && named.Name is { } n && offered.Contains(n))
                    {
                        StartRun(_pos, _pos);
                    }
                    else
                    {
                        _mode = Mode.Content;
                    }
                }
                else
                {
                    _mode = Mode.Content;
                }
                return true;
            case Mode.Content:
                return StepContent(final, piece);
            case Mode.Calls:
                return StepCalls(final, piece);
            default:
                _pos = _s.Length;
                return false;
        }
    }

    private bool StepContent(bool final, ToolCallPiece piece)
    {
        var (opener, at) = FirstOpener();
        if (opener is not null)
        {
            piece.Content.Append(_s, _pos, TrimEnd(_pos, at) - _pos);
            StartRun(at, at + opener.Length);
            return true;
        }
        int end = final ? _s.Length : _s.Length - HeldBack();
        int emit = final && Calls == 0 ? end : TrimEnd(_pos, end);
        piece.Content.Append(_s, _pos, emit - _pos);
        _pos = final ? _s.Length : emit;
        return false;
    }

    private bool StepCalls(bool final, ToolCallPiece piece)
    {
        int i = SkipSeparators(final);
        if (i < 0)
        {
            return false;
        }
        if (i == _s.Length)
        {
            if (final)
            {
                EndRun(i, piece);
            }
            return false;
        }
        bool named = _s[i] != '{' && format.ArgumentsMarker is not null && CallObject.IsNameChar(_s[i]);
        if (_s[i] != '{' && !named)
        {
            EndRun(i, piece);
            return true;
        }
        var call = named ? CallObject.ReadNamed(_s, i, format.ArgumentsMarker!) : CallObject.Read(_s, i);
        bool ends = call.Whole || call.Malformed || final;
        if (!_headerSent && (call.Malformed || (call.Name is { } n && !offered.Contains(n)) || (ends && call.Name is null)))
        {
            // not a call after all: its text (the run's, when it made none) is content
            int from = _runCalls == 0 ? _runStart : i;
            piece.Content.Append(_s, from, i + 1 - from);
            _pos = i + 1;
            _mode = Mode.Content;
            return true;
        }
        if (call.Name is { } name && !_headerSent)
        {
            piece.Calls.Add(new ToolCallDelta(Calls) { Id = idOf(Calls), Type = "function", Function = new FunctionCallDelta { Name = name, Arguments = "" } });
            _headerSent = true;
            _argumentsSent = -1;
        }
        if (_headerSent && call.ArgumentsStart >= 0 && _s[call.ArgumentsStart] != '"')
        {
            int from = Math.Max(_argumentsSent, call.ArgumentsStart);
            int to = call.ArgumentsEnd >= 0 ? call.ArgumentsEnd : _s.Length;
            if (to > from)
            {
                Arguments(piece, _s[from..to]);
                _argumentsSent = to;
            }
        }
        if (!ends)
        {
            return false;
        }
        if (call.Whole && call.ArgumentsStart < 0)
        {
            Arguments(piece, "{}");
        }
        else if (call.Whole && _s[call.ArgumentsStart] == '"')
        {
            // arguments written as a string holding the JSON
            Arguments(piece, CallObject.Decode(_s[call.ArgumentsStart..call.ArgumentsEnd]) ?? "{}");
        }
        Calls++;
        _runCalls++;
        _headerSent = false;
        _pos = call.Whole ? call.End : _s.Length;
        _mode = !call.Whole || !parallel ? Mode.Ignore : Mode.Calls;
        return true;
    }

    private string NameAt(int i)
    {
        int j = i;
        while (j < _s.Length && CallObject.IsNameChar(_s[j]))
        {
            j++;
        }
        return _s[i..j];
    }

    private void Arguments(ToolCallPiece piece, string text) =>
        piece.Calls.Add(new ToolCallDelta(Calls) { Function = new FunctionCallDelta { Arguments = text } });

    private void StartRun(int start, int body)
    {
        _runStart = start;
        _runCalls = 0;
        _pos = body;
        _mode = Mode.Calls;
    }

    /// <summary>The run ends before <paramref name="i"/>; one that made no call was content.</summary>
    private void EndRun(int i, ToolCallPiece piece)
    {
        if (_runCalls == 0)
        {
            piece.Content.Append(_s, _runStart, i - _runStart);
        }
        _pos = i;
        _mode = Mode.Content;
    }

    /// <summary>Skips whitespace, brackets, commas, semicolons and the family's markers between calls; -1 to wait for more text.</summary>
    private int SkipSeparators(bool final)
    {
        int i = _pos;
        while (true)
        {
            i = JsonScan.SkipWhitespace(_s, i);
            // markers first: Mistral's [TOOL_CALLS] starts with a bracket
            string? marker = format.Separators.FirstOrDefault(m => i + m.Length <= _s.Length && string.CompareOrdinal(_s, i, m, 0, m.Length) == 0);
            if (marker is not null)
            {
                i += marker.Length;
                continue;
            }
            if (!final && i < _s.Length && format.Separators.Any(m => m.Length > _s.Length - i && m.StartsWith(_s[i..], StringComparison.Ordinal)))
            {
                return -1;
            }
            if (i < _s.Length && _s[i] is ',' or ';' or '[' or ']')
            {
                i++;
                continue;
            }
            _pos = i;
            return i;
        }
    }

    private (string? Opener, int At) FirstOpener()
    {
        (string?, int) best = (null, int.MaxValue);
        foreach (var opener in format.Openers)
        {
            int at = _s.IndexOf(opener, _pos, StringComparison.Ordinal);
            if (at >= 0 && at < best.Item2)
            {
                best = (opener, at);
            }
        }
        return best;
    }

    /// <summary>The longest tail of the text that an opener starts with.</summary>
    private int HeldBack()
    {
        int longest = format.Openers.Max(o => o.Length) - 1;
        for (int k = Math.Min(longest, _s.Length - _pos); k > 0; k--)
        {
            string tail = _s[^k..];
            if (format.Openers.Any(o => o.StartsWith(tail, StringComparison.Ordinal)))
            {
                return k;
            }
        }
        return 0;
    }

    private int TrimEnd(int start, int end)
    {
        while (end > start && char.IsWhiteSpace(_s[end - 1]))
        {
            end--;
        }
        return end;
    }
}

/// <summary>What one push made certain: content text and tool_calls deltas.</summary>
internal sealed class ToolCallPiece
{
    public StringBuilder Content { get; } = new();

    public List<ToolCallDelta> Calls { get; } = [];
}
