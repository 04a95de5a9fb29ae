using System.Text;

namespace Sluice.Server.Chat.Reasoning;

/// <summary>Which model family's thinking syntax <c>--reasoning-parser</c> reads (vLLM's names).</summary>
public enum ReasoningFormat
{
    /// <summary>Qwen 3: a reply that opens with <c>&lt;think&gt;</c> thinks until <c>&lt;/think&gt;</c>; one that does not is all content.</summary>
    Qwen3,

    /// <summary>DeepSeek-R1: its template opens the thinking in the prompt, so a reply thinks from its start (a <c>&lt;think&gt;</c> it writes is dropped) until <c>&lt;/think&gt;</c>.</summary>
    DeepSeekR1,
}

/// <summary>
/// Splits one choice's text, as it arrives, into reasoning_content and content, as vLLM's reasoning parsers for Qwen 3
/// and DeepSeek-R1 do. The markers are dropped; whitespace right after <c>&lt;/think&gt;</c> is dropped too; text that may
/// still become a marker is held back. A reply cut off before <c>&lt;/think&gt;</c> keeps what it thought as reasoning.
/// The whole text pushed at once gives what its pieces give, so a stream reassembles into the answer.
/// </summary>
public sealed class ReasoningParser(ReasoningFormat format)
{
    private const string Open = "<think>", Close = "</think>";

    private enum Mode
    {
        Start,     // nothing but whitespace yet: an opening <think> may come
        Reasoning,
        AfterClose, // just past </think>: leading whitespace is dropped
        Content,
    }

    private readonly StringBuilder _pending = new();
    private Mode _mode = Mode.Start;

    public static ReasoningFormat Parse(string name) => name.ToLowerInvariant() switch
    {
        "qwen3" => ReasoningFormat.Qwen3,
        "deepseek_r1" or "deepseek-r1" => ReasoningFormat.DeepSeekR1,
        _ => throw new FormatException($"--reasoning-parser '{name}': use qwen3 or deepseek_r1"),
    };

    /// <summary>Adds text (<paramref name="final"/> on the last piece); returns the reasoning and content it made certain.</summary>
    public (string Reasoning, string Content) Push(string text, bool final)
    {
        _pending.Append(text);
        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        while (Step(final, reasoning, content))
        {
        }
        return (reasoning.ToString(), content.ToString());
    }

    private bool Step(bool final, StringBuilder reasoning, StringBuilder content)
    {
        string s = _pending.ToString();
        switch (_mode)
        {
            case Mode.Start:
                {
                    string trimmed = s.TrimStart();
                    if (trimmed.StartsWith(Open, StringComparison.Ordinal))
                    {
                        Take(s.Length - trimmed.Length + Open.Length);
                        _mode = Mode.Reasoning;
                        return true;
                    }
                    if (!final && Open.StartsWith(trimmed, StringComparison.Ordinal))
                    {
                        return false; // all whitespace, or a <think> still arriving
                    }
                    _mode = format == ReasoningFormat.DeepSeekR1 ? Mode.Reasoning : Mode.Content;
                    return true;
                }
            case Mode.Reasoning:
                {
                    int at = s.IndexOf(Close, StringComparison.Ordinal);
                    if (at >= 0)
                    {
                        reasoning.Append(s, 0, at);
                        Take(at + Close.Length);
                        _mode = Mode.AfterClose;
                        return true;
                    }
                    int keep = final ? 0 : HeldBack(s, Close);
                    reasoning.Append(s, 0, s.Length - keep);
                    Take(s.Length - keep);
                    return false;
                }
            case Mode.AfterClose:
                {
                    int i = 0;
                    while (i < s.Length && char.IsWhiteSpace(s[i]))
                    {
                        i++;
                    }
                    Take(i);
                    if (i == s.Length)
                    {
                        return false;
                    }
                    _mode = Mode.Content;
                    return true;
                }
            default:
                content.Append(s);
                Take(s.Length);
                return false;
        }
    }

    private void Take(int n) => _pending.Remove(0, n);

    /// <summary>The longest tail of <paramref name="s"/> that <paramref name="marker"/> starts with.</summary>
    private static int HeldBack(string s, string marker)
    {
        for (int k = Math.Min(marker.Length - 1, s.Length); k > 0; k--)
        {
            if (string.CompareOrdinal(s, s.Length - k, marker, 0, k) == 0)
            {
                return k;
            }
        }
        return 0;
    }
}
