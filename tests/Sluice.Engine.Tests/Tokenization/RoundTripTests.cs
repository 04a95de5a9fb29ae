using System.Text;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Tokenization;

public sealed class RoundTripTests
{
    [SkippableTheory]
    [InlineData(TestTokenizers.LlamaSpm)]
    [InlineData(TestTokenizers.Qwen2)]
    [InlineData(TestTokenizers.LlamaBpe)]
    public void Decode_EncodedTestStrings_GivesBackTheText(string file)
    {
        var t = TestTokenizers.Vocab(file);
        var failures = new StringBuilder();
        foreach (var (text, _) in TestTokenizers.TestCases(file))
        {
            string back = t.Decode(t.Encode(text, addSpecial: false));
            if (back != text)
            {
                failures.AppendLine($"{VocabConformanceTests.Escape(text)} -> {VocabConformanceTests.Escape(back)}");
            }
        }
        Assert.True(failures.Length == 0, failures.ToString());
    }

    [SkippableFact]
    public void Decode_SpmWithoutBos_DropsTheSpacePrefixOfTheFirstPiece()
    {
        var t = TestTokenizers.Vocab(TestTokenizers.LlamaSpm);
        Assert.Equal("Hello world", t.Decode([15043, 3186]));
        Assert.Equal(" Hello", t.Decode([259, 10994])); // "▁▁" then "Hello": only one space is dropped
    }

    [SkippableFact]
    public void Decode_SpmAfterBos_KeepsTheLeadingSpaceAsLlamaDetokenizeDoes()
    {
        var t = TestTokenizers.Vocab(TestTokenizers.LlamaSpm);
        Assert.Equal(" Hello world", t.Decode(t.Encode("Hello world", addSpecial: true)));
        Assert.Equal("<s> Hello", t.Decode([1, 15043], renderSpecial: true));
    }

    [SkippableFact]
    public void Decode_ByteLevelBpe_NeverDropsLeadingSpaces()
    {
        var t = TestTokenizers.Vocab(TestTokenizers.Qwen2);
        Assert.Equal(" Hello", t.Decode(t.Encode(" Hello", addSpecial: false)));
        Assert.Equal("Hello", TestTokenizers.Vocab(TestTokenizers.LlamaBpe).Decode(TestTokenizers.Vocab(TestTokenizers.LlamaBpe).Encode("Hello")));
    }

    [SkippableFact]
    public void Decode_PieceThatIsNotValidUtf8_BecomesReplacementCharacter()
    {
        var t = TestTokenizers.Vocab(TestTokenizers.LlamaSpm);
        Assert.Equal("\uFFFD A", t.Decode([3 + 0xF0, 3 + 0x9F, 319])); // 319 is "▁A"
        Assert.Equal("🦙", t.Decode([3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99]));
    }
}
