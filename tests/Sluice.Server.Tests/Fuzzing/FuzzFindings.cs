using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Sluice.Server.Tests.Fuzzing;

/// <summary>
/// Judges each answer as it comes and gathers the failures into distinct classes (route, status, error message
/// with numbers and ids blanked), each with its count and its first request: index, what was done to it, body,
/// the server's log of it, and the command that replays it.
/// </summary>
internal sealed partial class FuzzFindings(int seed, ServerLog? log, string replayCommand)
{
    private sealed class Finding(string name)
    {
        public string Name { get; } = name;
        public int Count { get; set; }
        public int? Index { get; init; }
        public string? Replay { get; init; }
        public string Example { get; init; } = "";
        public List<int> More { get; } = [];
    }

    private readonly object _lock = new();
    private readonly Dictionary<string, Finding> _findings = [];
    private readonly SortedDictionary<string, int> _tally = new(StringComparer.Ordinal);

    public int Seed => seed;
    public int Requests { get; private set; }
    public bool Any => _findings.Count > 0;
    public int Classes => _findings.Count;

    /// <summary>Outcomes by kind ("200", "400", "cancelled by us"...), for the summary.</summary>
    public IReadOnlyDictionary<string, int> Tally => _tally;

    public static string RequestId(int seed, FuzzRequest r) => $"fuzz-{seed}-{r.Index}";

    public void Record(FuzzResult r)
    {
        var q = r.Request;
        string route = q.Method + " " + PathOnly(q.Path);
        lock (_lock)
        {
            Requests++;
            string kind = r.Outcome switch
            {
                FuzzOutcome.Answered => r.Status.ToString(CultureInfo.InvariantCulture),
                FuzzOutcome.CancelledByUs => "cancelled by us",
                FuzzOutcome.Hang => "hang",
                _ => "transport error",
            };
            _tally[kind] = _tally.GetValueOrDefault(kind) + 1;
        }
        switch (r.Outcome)
        {
            case FuzzOutcome.Hang:
                Add($"hang: {route} gave no complete answer within the request timeout ({r.Detail})", q, r);
                return;
            case FuzzOutcome.TransportError:
                Add($"transport error on {route}: {Normalize(r.Detail ?? "")}", q, r);
                return;
            case FuzzOutcome.CancelledByUs:
                if (r.StreamError != null)
                {
                    Add($"error event in a 200 stream from {route}: {Normalize(r.StreamError)}", q, r);
                }
                return;
        }
        if (r.Status >= 500)
        {
            // one class per exception type and the place in Sluice's code that threw it (the example shows its message)
            string cause = log?.About(RequestId(seed, q)) is { } ex ? $"{ex.Split('\n')[0].Split(':')[0]}{Site(ex)}" : Normalize(r.ErrorMessage ?? "(no error message)");
            Add($"{r.Status} from {route}: {cause}", q, r);
        }
        if (r.StreamError != null)
        {
            Add($"error event in a 200 stream from {route}: {Normalize(r.StreamError)}", q, r);
        }
        if (q.HttpLevel && r.Status == 400)
        {
            return;
        }
        if (q.HttpLevel && r.Status == 400)
        {
            return;
        }
        if (r.Problem != null)
        {
            Add($"malformed answer from {route} ({r.Status}): {Normalize(r.Problem)}", q, r);
        }
        if (!r.RequestIdEchoed)
        {
            Add($"no X-Request-Id echoed by {route} ({r.Status})", q, r);
        }
        if (r.Status == 400 && q.MutatedField is { } field && r.ErrorCode != "context_length_exceeded" && !Names(r, field))
        {
            Add($"400 names the wrong field: {route} changed '{field}', the error says param '{r.ErrorParam ?? "null"}': {Normalize(r.ErrorMessage ?? "")}", q, r);
        }
        if (r.ErrorCode == "context_length_exceeded" && PathOnly(q.Path) is "/v1/completions" or "/v1/predict" && r.ErrorParam == "messages")
        {
            Add($"400 names the wrong field: context_length_exceeded from {route} says param 'messages' (the request has none; its prompt is too long)", q, r);
        }
        if (q.Context is { } c)
        {
            bool ok = c.Fits ? r.Status is 200 or 429 : r.Status == 400 && r.ErrorCode == "context_length_exceeded";
            if (!ok)
            {
                Add($"context limit on {route}: a request that {(c.Fits ? "fits" : "does not fit")} got {r.Status} {r.ErrorCode}: {Normalize(r.ErrorMessage ?? "")}", q, r);
            }
        }
    }

    /// <summary>A failure not tied to one answer (the engine past its limits, leaks, a dead server), with what was in flight.</summary>
    public void Add(string name, string example, IEnumerable<int>? replay = null)
    {
        lock (_lock)
        {
            if (_findings.TryGetValue(name, out var f))
            {
                f.Count++;
                return;
            }
            _findings[name] = new Finding(name) { Count = 1, Example = example, Replay = replay is null ? null : string.Join(",", replay) };
        }
    }

    private void Add(string name, FuzzRequest q, FuzzResult r)
    {
        lock (_lock)
        {
            if (_findings.TryGetValue(name, out var f))
            {
                f.Count++;
                if (f.More.Count < 8)
                {
                    f.More.Add(q.Index);
                }
                return;
            }
            _findings[name] = new Finding(name) { Count = 1, Index = q.Index, Example = Describe(q, r) };
        }
    }

    public static string DescribeRequest(FuzzRequest q) =>
        $"{q.Describe()}\n      body: {(q.Body is null ? "(none)" : FuzzJson.Preview(q.Body))}" +
        (q.ContentType is { } ct && ct != "application/json" ? $"\n      Content-Type: {ct}" : "");

    private string Describe(FuzzRequest q, FuzzResult r)
    {
        var s = new StringBuilder(DescribeRequest(q));
        s.Append(CultureInfo.InvariantCulture, $"\n      answer: {(r.Status == 0 ? "none" : r.Status.ToString(CultureInfo.InvariantCulture))}");
        if (r.ErrorMessage != null)
        {
            s.Append(CultureInfo.InvariantCulture, $" {r.ErrorType}/{r.ErrorCode ?? "null"} param {r.ErrorParam ?? "null"}: {r.ErrorMessage}");
        }
        if (r.StreamError != null)
        {
            s.Append(CultureInfo.InvariantCulture, $"; stream error event: {r.StreamError}");
        }
        if (r.Problem != null)
        {
            s.Append(CultureInfo.InvariantCulture, $"; {r.Problem}");
        }
        if (r.Detail != null)
        {
            s.Append(CultureInfo.InvariantCulture, $"; {r.Detail}");
        }
        s.Append(CultureInfo.InvariantCulture, $" after {r.Seconds:F2} s");
        if (log?.About(RequestId(seed, q)) is { } ex)
        {
            s.Append("\n      server log: ").Append(ex.Replace("\n", "\n        ", StringComparison.Ordinal));
        }
        return s.ToString();
    }

    /// <summary>The error names the field: as its param (or a path inside it), or in its message as a whole word.</summary>
    private static bool Names(FuzzResult r, string field)
    {
        if (r.ErrorParam is { } p && (p == field || p.StartsWith(field + "[", StringComparison.Ordinal) || p.StartsWith(field + ".", StringComparison.Ordinal)))
        {
            return true;
        }
        return r.ErrorMessage != null && Regex.IsMatch(r.ErrorMessage, $"(?<![A-Za-z_]){Regex.Escape(field)}(?![A-Za-z_])");
    }

    public string Report(string header)
    {
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"{header}\nfuzz seed {seed}: {Requests} requests; ");
        s.AppendJoin(", ", _tally.Select(kv => $"{kv.Key}: {kv.Value}"));
        s.Append(CultureInfo.InvariantCulture, $"\n{_findings.Count} failure class(es)");
        int i = 1;
        foreach (var f in _findings.Values)
        {
            s.Append(CultureInfo.InvariantCulture, $"\n[{i++}] {f.Name}\n    {f.Count} time(s)");
            if (f.Index is { } index)
            {
                s.Append(CultureInfo.InvariantCulture, $", first request #{index}");
                if (f.More.Count > 0)
                {
                    s.Append(", also #").AppendJoin(", #", f.More);
                }
            }
            s.Append("\n    e.g. ").Append(f.Example);
            if ((f.Replay ?? f.Index?.ToString(CultureInfo.InvariantCulture)) is { Length: > 0 } replay)
            {
                s.Append("\n    replay: ").Append(string.Format(CultureInfo.InvariantCulture, replayCommand, replay));
            }
        }
        return s.ToString();
    }

    /// <summary>Where in Sluice's code an exception was thrown: " at Class.Method", from its first Sluice frame.</summary>
    private static string Site(string exception)
    {
        var frame = exception.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("at Sluice.", StringComparison.Ordinal));
        if (frame is null)
        {
            return "";
        }
        string method = frame[3..].Split('(')[0];
        var parts = method.Split('.');
        return parts.Length >= 2 ? $" at {parts[^2]}.{parts[^1]}" : "";
    }

    private static string PathOnly(string path) => path.Split('?')[0];

    /// <summary>A message with what varies between requests blanked: ids, numbers, quoted values that are not field names.</summary>
    public static string Normalize(string message)
    {
        string s = FuzzIds().Replace(message, "fuzz-*");
        s = Hex().Replace(s, "0x*");
        s = Digits().Replace(s, "N");
        s = Quoted().Replace(s, m => FieldLike().IsMatch(m.Groups[1].Value) ? m.Value : "'…'");
        s = s.Replace("\n", " ", StringComparison.Ordinal);
        return s.Length > 220 ? s[..220] + "…" : s;
    }

    [GeneratedRegex(@"fuzz-\d+-\d+")]
    private static partial Regex FuzzIds();

    [GeneratedRegex(@"0x[0-9A-Fa-f]+")]
    private static partial Regex Hex();

    [GeneratedRegex(@"(?<![A-Za-z])-?\d+")]
    private static partial Regex Digits();

    [GeneratedRegex(@"'([^']*)'")]
    private static partial Regex Quoted();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z_0-9\[\]\.N]*$")]
    private static partial Regex FieldLike();
}
