namespace Sluice.Engine.Scheduling;

/// <summary>
/// Finds stop strings in streamed text across token boundaries. Text is released only once no stop
/// string can still begin inside it; a possible start stays held back until the next token decides.
/// </summary>
public sealed class StopStringMatcher(IReadOnlyList<string> stops)
{
    private string _held = "";

    /// <summary>Adds text; returns what is safe to emit and, on a match, the stop string that matched.</summary>
    public (string Emit, string? Matched) Push(string text, bool includeStop)
    {
        if (stops.Count == 0)
        {
            return (text, null);
        }
        _held += text;
        int best = -1;
        string? matched = null;
        foreach (var s in stops)
        {
            int i = _held.IndexOf(s, StringComparison.Ordinal);
            if (i >= 0 && (best < 0 || i < best))
            {
                best = i;
                matched = s;
            }
        }
        if (matched != null)
        {
            string emit = _held[..(best + (includeStop ? matched.Length : 0))];
            _held = "";
            return (emit, matched);
        }
        int keep = LongestPossibleStart();
        string safe = _held[..(_held.Length - keep)];
        _held = _held[(_held.Length - keep)..];
        return (safe, null);
    }

    /// <summary>Releases whatever is held (the sequence ended for another reason).</summary>
    public string Flush()
    {
        var rest = _held;
        _held = "";
        return rest;
    }

    // length of the longest suffix of _held that is a proper prefix of some stop string
    private int LongestPossibleStart()
    {
        int best = 0;
        foreach (var s in stops)
        {
            for (int len = Math.Min(s.Length - 1, _held.Length); len > best; len--)
            {
                if (_held.AsSpan(_held.Length - len).SequenceEqual(s.AsSpan(0, len)))
                {
                    best = len;
                    break;
                }
            }
        }
        return best;
    }
}
