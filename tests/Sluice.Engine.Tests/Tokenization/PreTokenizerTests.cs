using System.Text;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Tests.Tokenization;

/// <summary>The pre-tokenizer scanners against their regexes, case by case (no model files needed).</summary>
public sealed class PreTokenizerTests
{
    [Theory]
    [InlineData("Hello world", "Hello| world")]
    [InlineData("don't DON'T we'll", "don|'t| DON|'T| we|'ll")]
    [InlineData("12345 x", "123|45| x")]
    [InlineData("a  b", "a| | b")]
    [InlineData("x\n\n y", "x|\n\n| y")]
    [InlineData("hi!!\n\nok", "hi|!!\n\n|ok")]
    [InlineData("end  ", "end|  ")]
    [InlineData("(ok)", "(ok|)")]
    [InlineData("\U0001D400\U0001D401c \U0001F999\U0001F999", "\U0001D400\U0001D401c| \U0001F999\U0001F999")]
    [InlineData("über naïve", "über| naïve")]
    [InlineData("\t\tx", "\t|\tx")]
    public void Split_Llama3_FollowsTheLlama3Regex(string text, string expected) =>
        Assert.Equal(expected, Split(PreTokenizerKind.Llama3, text));

    [Theory]
    [InlineData("12345", "1|2|3|4|5")]
    [InlineData("a1b", "a|1|b")]
    [InlineData("Hello world", "Hello| world")]
    public void Split_Qwen2_SplitsEveryDigit(string text, string expected) =>
        Assert.Equal(expected, Split(PreTokenizerKind.Qwen2, text));

    [Theory]
    [InlineData("don't DON'T", "don|'t| DON|'|T")]
    [InlineData("12345 abc", "12345| abc")]
    [InlineData("a  b", "a| | b")]
    [InlineData("x\n\n y", "x|\n\n| y")]
    [InlineData(" !? x", " !?| x")]
    public void Split_Gpt2_FollowsTheGpt2Regex(string text, string expected) =>
        Assert.Equal(expected, Split(PreTokenizerKind.Gpt2, text));

    [Fact]
    public void ByteLevel_AllBytes_MapToDistinctCharactersAndBack()
    {
        Assert.Equal('\u0120', ByteLevel.Encode((byte)' '));
        Assert.Equal('\u010A', ByteLevel.Encode((byte)'\n'));
        Assert.Equal('\u0143', ByteLevel.Encode(0xAD));
        Assert.Equal('A', ByteLevel.Encode((byte)'A'));
        for (int b = 0; b < 256; b++)
        {
            Assert.Equal(b, ByteLevel.Decode(ByteLevel.Encode((byte)b)));
        }
        Assert.Equal(-1, ByteLevel.Decode('\u2581'));
    }

    private static string Split(PreTokenizerKind kind, string text)
    {
        var cps = new List<int>();
        var starts = new List<int>();
        for (int i = 0; i < text.Length;)
        {
            Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out int used);
            cps.Add(rune.Value);
            starts.Add(i);
            i += used;
        }
        starts.Add(text.Length);
        var ends = new List<int>();
        PreTokenizer.For(kind).Split([.. cps], [.. cps.Select(Codepoints.Classify)], ends);
        var pieces = new List<string>();
        int from = 0;
        foreach (int end in ends)
        {
            pieces.Add(text[starts[from]..starts[end]]);
            from = end;
        }
        return string.Join('|', pieces);
    }
}
