using Sluice.Engine.Tests.Support;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Tests.Tokenization;

public sealed class IncrementalDetokenizerTests
{
    private static Tokenizer Spm => TestTokenizers.Vocab(TestTokenizers.LlamaSpm);

    private static int SpmByte(int b) => 3 + b; // <0x00> is id 3 in the llama vocabulary

    [SkippableFact]
    public void Push_EmojiSplitOverByteTokens_EmitsItOnlyWhenComplete()
    {
        var d = Spm.CreateDetokenizer();
        Assert.Equal("", d.Push(SpmByte(0xF0)));
        Assert.Equal("", d.Push(SpmByte(0x9F)));
        Assert.Equal("", d.Push(SpmByte(0xA6)));
        Assert.Equal("🦙", d.Push(SpmByte(0x99)));
        Assert.Equal("", d.Flush());
    }

    [SkippableFact]
    public void Push_CjkSplitOverByteLevelTokens_EmitsItOnlyWhenComplete()
    {
        var t = TestTokenizers.Vocab(TestTokenizers.Qwen2);
        var d = t.CreateDetokenizer();
        var outputs = "我"u8.ToArray().Select(b => d.Push(ByteToken(t, b))).ToArray();
        Assert.Equal(["", "", "我"], outputs);
    }

    [SkippableFact]
    public void Push_SequenceThatCannotComplete_EmitsOneReplacementCharacterAsSoonAsKnown()
    {
        var d = Spm.CreateDetokenizer();
        Assert.Equal("", d.Push(SpmByte(0xF0)));
        Assert.Equal("", d.Push(SpmByte(0x9F)));
        Assert.Equal("\uFFFD A", d.Push(319)); // " A" cannot continue a 4-byte sequence
        Assert.Equal("\uFFFD", d.Push(SpmByte(0x80))); // a lone continuation byte
        Assert.Equal("", d.Push(SpmByte(0xE6)));
        Assert.Equal("\uFFFD", d.Flush()); // truncated at the end of the stream
    }

    [SkippableFact]
    public void Push_SpmAtStartOfSequence_DropsTheFirstSpaceLikeDecode()
    {
        var ids = Spm.Encode("Hello world", addSpecial: false);
        Assert.Equal("Hello world", Stream(Spm.CreateDetokenizer(), ids));
        Assert.Equal(" Hello world", Stream(Spm.CreateDetokenizer(startOfSequence: false), ids));
    }

    [SkippableTheory]
    [InlineData(TestTokenizers.LlamaSpm)]
    [InlineData(TestTokenizers.Qwen2)]
    [InlineData(TestTokenizers.LlamaBpe)]
    public void Push_AnyTokenSequence_ConcatenatesToDecode(string file)
    {
        var t = TestTokenizers.Vocab(file);
        var rng = new Random(7);
        var sequences = TestTokenizers.TestCases(file).Select(c => t.Encode(c.Text, addSpecial: true)).ToList();
        for (int i = 0; i < 200; i++)
        {
            // Random ids, biased to short pieces and byte tokens so that characters get split and broken.
            sequences.Add([.. Enumerable.Range(0, rng.Next(1, 12)).Select(_ => rng.Next(3) == 0 ? rng.Next(t.VocabSize) : rng.Next(300))]);
        }
        foreach (var ids in sequences)
        {
            Assert.Equal(t.Decode(ids), Stream(t.CreateDetokenizer(), ids));
            Assert.Equal(t.Decode(ids, renderSpecial: true), Stream(t.CreateDetokenizer(renderSpecial: true), ids));
        }
    }

    private static string Stream(IncrementalDetokenizer d, int[] ids) => string.Concat(ids.Select(d.Push)) + d.Flush();

    private static int ByteToken(Tokenizer t, byte b) =>
        t.Vocabulary.TryGetId([ByteLevel.Encode(b)], out int id) ? id : throw new InvalidOperationException($"no token for byte {b}");
}
