using System.Text;
using Sluice.Engine.Sampling.Grammars;

namespace Sluice.Engine.Tests.Sampling.Grammars;

public sealed class GrammarMatcherTests
{
    private const int Eos = 0;

    /// <summary>
    /// A small vocabulary of byte strings that cross JSON's boundaries: punctuation glued to text, whole and partial
    /// UTF-8 characters, escapes, every single byte, and random byte runs.
    /// </summary>
    private static byte[][] Vocabulary(int seed)
    {
        var rng = new Random(seed);
        var pieces = new List<byte[]> { Array.Empty<byte>() }; // id 0: end of generation, no bytes
        string[] texts = ["{\"", "\":", "\",\"", "\"}", "}", "]}", "[\"", "\"]", ",", "true", "tr", "ue}", "null", "-1", "0.", "5e", "+3",
            "é", "😀", "\\\"", "\\u00", "e9\"", "name", "\":\"", "\"name\":\"", "ab\"", "\"age\":", "12,", "}}", "\n", " ", "\": \"", "[]"];
        pieces.AddRange(texts.Select(Encoding.UTF8.GetBytes));
        byte[] emoji = Encoding.UTF8.GetBytes("😀é");
        for (int i = 1; i < emoji.Length; i++)
        {
            pieces.Add(emoji[..i]);
            pieces.Add(emoji[i..]);
        }
        for (int b = 0; b < 256; b++)
        {
            pieces.Add([(byte)b]);
        }
        for (int i = 0; i < 200; i++)
        {
            var p = new byte[rng.Next(1, 5)];
            for (int j = 0; j < p.Length; j++)
            {
                p[j] = (byte)(rng.Next(3) == 0 ? rng.Next(256) : "{}[]\":,abé0123-.e"[rng.Next(17)]);
            }
            pieces.Add(p);
        }
        return [.. pieces];
    }

    [Theory]
    [InlineData("""{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"ok":{"type":"boolean"}},"required":["name","age"],"additionalProperties":false}""", 1)]
    [InlineData("""{"type":"array","items":{"enum":["é",1.5,null]},"maxItems":3}""", 2)]
    [InlineData("""{"type":"object"}""", 3)]
    public void Mask_RandomWalks_EqualsBruteForceOverVocabulary(string schema, int seed)
    {
        var vocab = Vocabulary(seed);
        var trie = new TokenTrie(vocab.Length, id => vocab[id], [Eos]);
        var matcher = new GrammarMatcher(JsonSchemaCompiler.Compile(schema), trie);
        var rng = new Random(seed);
        for (int walk = 0; walk < 20; walk++)
        {
            var state = matcher.Start;
            for (int step = 0; step < 40; step++)
            {
                var mask = matcher.Mask(state);
                var allowed = new List<int>();
                for (int id = 0; id < vocab.Length; id++)
                {
                    bool brute = id == Eos ? state.IsAccepting : matcher.Step(state, vocab[id]) != null;
                    bool masked = (mask[id >> 6] & (1UL << (id & 63))) != 0;
                    Assert.True(brute == masked, $"token {id} ({Convert.ToHexString(vocab[id])}): brute force {brute}, mask {masked}");
                    if (brute && id != Eos)
                    {
                        allowed.Add(id);
                    }
                }
                if (allowed.Count == 0)
                {
                    Assert.True(state.IsAccepting, "a state with no token allowed must be complete");
                    break;
                }
                state = matcher.Step(state, vocab[allowed[rng.Next(allowed.Count)]])!;
            }
        }
    }

    [Fact]
    public void Step_MultiByteCharacterSplitAcrossTokens_Accepted()
    {
        var trie = new TokenTrie(1, _ => [0x41], []);
        var matcher = new GrammarMatcher(JsonSchemaCompiler.Compile("""{"type":"string"}"""), trie);
        byte[] text = Encoding.UTF8.GetBytes("\"😀\"");
        var s = matcher.Step(matcher.Start, text.AsSpan(0, 3));
        Assert.NotNull(s);
        Assert.False(s.IsAccepting);
        Assert.Null(matcher.Step(s, (byte)'"')); // inside the character, a quote is refused
        var end = matcher.Step(s, text.AsSpan(3));
        Assert.True(end!.IsAccepting);
        Assert.False(end.CanContinue);
    }

    [Fact]
    public void Step_LongRepetition_StackStaysShallow()
    {
        var trie = new TokenTrie(1, _ => [0x41], []);
        var matcher = new GrammarMatcher(JsonSchemaCompiler.Compile("""{"type":"array","items":{"type":"integer"}}"""), trie);
        var text = "[" + string.Join(",", Enumerable.Range(0, 5000)) + "]";
        Assert.True(matcher.Accepts(Encoding.UTF8.GetBytes(text)));
    }
}
