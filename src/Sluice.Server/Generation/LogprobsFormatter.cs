using System.Text;
using Sluice.Engine.Serving;
using Sluice.Engine.Tokenization;
using Sluice.OpenAi;

namespace Sluice.Server.Generation;

/// <summary>Token log-probabilities in the two shapes OpenAI uses: the legacy completions lists and chat's content entries.</summary>
internal sealed class LogprobsFormatter(Tokenizer tokenizer)
{
    /// <summary>A token's text as clients see it: its piece's bytes read as UTF-8 (a partial character shows as U+FFFD).</summary>
    public string TokenText(int id) => Encoding.UTF8.GetString(tokenizer.TokenBytes(id));

    public ChatTokenLogprob Chat(TokenEvent ev)
    {
        var top = new List<ChatTopLogprob>();
        foreach (var t in ev.TopLogprobs ?? [])
        {
            top.Add(new ChatTopLogprob(TokenText(t.Token), t.Logprob, Bytes(t.Token)));
        }
        return new ChatTokenLogprob(TokenText(ev.Token), ev.Logprob, Bytes(ev.Token), top);
    }

    /// <summary>Appends one token to completions' parallel lists; the top map includes the chosen token, as OpenAI's does.</summary>
    public void AppendCompletion(CompletionLogprobs into, TokenEvent ev, int textOffset)
    {
        string token = TokenText(ev.Token);
        into.Tokens.Add(token);
        into.TokenLogprobs.Add(ev.Logprob);
        into.TextOffset.Add(textOffset);
        var top = new Dictionary<string, float>();
        foreach (var t in ev.TopLogprobs ?? [])
        {
            top.TryAdd(TokenText(t.Token), t.Logprob);
        }
        top.TryAdd(token, ev.Logprob);
        into.TopLogprobs.Add(top);
    }

    private List<int> Bytes(int id) => [.. tokenizer.TokenBytes(id).Select(b => (int)b)];
}
