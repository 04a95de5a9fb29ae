using System.Text;
using Sluice.OpenAi;

namespace Sluice.Server.Routes.ChatCompletions;

/// <summary>
/// Turns one choice's streamed text, a forced call decoded as compact <c>{"name":"f","arguments":...}</c>, into
/// OpenAI's tool_calls deltas: nothing until the name is whole, then one delta with id, type, name and empty
/// arguments, then the arguments a piece at a time. The wrapper's closing brace is held back a character behind, and
/// dropped when the call ends whole.
/// </summary>
internal sealed class ToolCallStream(string id)
{
    private const string Head = "{\"name\":\"";
    private const string Middle = "\",\"arguments\":";

    private readonly StringBuilder _text = new();
    private int _sent = -1; // characters of the text sent as arguments; -1 until the opening delta

    public List<ToolCallDelta>? Push(string text, bool final)
    {
        _text.Append(text);
        var deltas = new List<ToolCallDelta>();
        string all = _text.ToString();
        if (_sent < 0)
        {
            int middle = all.IndexOf(Middle, StringComparison.Ordinal);
            if (middle < 0 || !all.StartsWith(Head, StringComparison.Ordinal))
            {
                return null;
            }
            deltas.Add(new ToolCallDelta(0) { Id = id, Type = "function", Function = new FunctionCallDelta { Name = all[Head.Length..middle], Arguments = "" } });
            _sent = middle + Middle.Length;
        }
        // hold one character back: it may be the wrapper's closing brace
        int end = final && all.EndsWith('}') ? all.Length - 1 : final ? all.Length : all.Length - 1;
        if (end > _sent)
        {
            deltas.Add(new ToolCallDelta(0) { Function = new FunctionCallDelta { Arguments = all[_sent..end] } });
            _sent = end;
        }
        return deltas.Count == 0 ? null : deltas;
    }
}
