using System.Text;
using Sluice.Engine.Tests.Support;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Tests.Tokenization;

public sealed class SpecialTokenTests
{
    private static Tokenizer Qwen2 => TestTokenizers.Vocab(TestTokenizers.Qwen2);
    private static Tokenizer LlamaBpe => TestTokenizers.Vocab(TestTokenizers.LlamaBpe);
    private static Tokenizer LlamaSpm => TestTokenizers.Vocab(TestTokenizers.LlamaSpm);

    [SkippableFact]
    public void Encode_Qwen2ChatMarkupWithParseSpecial_EmitsImStartAndImEnd()
    {
        var t = Qwen2;
        var ids = t.Encode("<|im_start|>user\nhi<|im_end|>", addSpecial: false, parseSpecial: true);
        Assert.Equal([151644, 872, 198, 6023, 151645], ids);
        Assert.Equal([151644, .. t.Encode("user\nhi", addSpecial: false), 151645], ids);
    }

    [SkippableFact]
    public void Encode_Qwen2ChatMarkupWithoutParseSpecial_TreatsMarkersAsText()
    {
        var t = Qwen2;
        const string Text = "<|im_start|>user\nhi<|im_end|>";
        var ids = t.Encode(Text, addSpecial: false, parseSpecial: false);
        Assert.DoesNotContain(151644, ids);
        Assert.DoesNotContain(151645, ids);
        Assert.Equal(Text, t.Decode(ids));
    }

    [SkippableFact]
    public void Encode_Qwen2UserDefinedTokens_AreRecognisedEvenWithoutParseSpecial()
    {
        Assert.Equal([151667, 87, 151668], Qwen2.Encode("<think>x</think>", addSpecial: false, parseSpecial: false));
        Assert.Equal(TokenType.UserDefined, Qwen2.TokenType(151667));
        Assert.Equal("<think>"u8.ToArray(), Qwen2.TokenBytes(151667));
    }

    [SkippableFact]
    public void Vocabulary_Qwen2PlainEndOfSentence_IsPromotedToControlAndEndOfGeneration()
    {
        var t = Qwen2;
        Assert.Equal("</s>", t.TokenText(128247));
        Assert.Equal(TokenType.Control, t.TokenType(128247));
        Assert.True(t.IsEndOfGeneration(128247));
        Assert.Equal([128247], t.Encode("</s>", addSpecial: false, parseSpecial: true));
        Assert.Equal([522, 82, 29], t.Encode("</s>", addSpecial: false, parseSpecial: false));
        Assert.Empty(t.TokenBytes(128247));
        Assert.Equal("</s>"u8.ToArray(), t.TokenBytes(128247, renderSpecial: true));
    }

    [SkippableFact]
    public void Encode_Llama3HeaderMarkupWithParseSpecial_EmitsControlTokens()
    {
        var t = LlamaBpe;
        const string Text = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>";
        Assert.Equal([128000, 128006, 882, 128007], t.Encode(Text, addSpecial: false, parseSpecial: true));
        // llama.cpp does not dedupe: a BOS in the text follows the added one.
        Assert.Equal([128000, 128000, 128006, 882, 128007], t.Encode(Text, addSpecial: true, parseSpecial: true));
        var plain = t.Encode(Text, addSpecial: false, parseSpecial: false);
        Assert.DoesNotContain(128006, plain);
        Assert.Equal(Text, t.Decode(plain));
    }

    [SkippableFact]
    public void Encode_SpmBosTextWithParseSpecial_IsBosAndTextAfterItGetsTheSpacePrefix()
    {
        var t = LlamaSpm;
        Assert.Equal([1], t.Encode("<s>", addSpecial: false, parseSpecial: true));
        Assert.Equal([1, 15043], t.Encode("<s>Hello", addSpecial: false, parseSpecial: true));
        Assert.Equal([529, 29879, 29958], t.Encode("<s>", addSpecial: false, parseSpecial: false));
        Assert.Equal([0], t.Encode("<unk>", addSpecial: false, parseSpecial: true));
    }

    [SkippableFact]
    public void Encode_SpmSpecialTokenBetweenWords_SplitsTextAndPrefixesTheRightSide()
    {
        var t = LlamaSpm;
        var ids = t.Encode("Hello <s> world", addSpecial: false, parseSpecial: true);
        Assert.Equal([15043, 29871, 1, 29871, 3186], ids);
        Assert.Equal([.. t.Encode("Hello ", addSpecial: false), 1, .. t.Encode(" world", addSpecial: false)], ids);
    }

    [SkippableFact]
    public void Encode_AdjacentAndRepeatedSpecialTokens_AreAllSplitOut()
    {
        var t = Qwen2;
        var ids = t.Encode("<|im_end|><|im_start|><|im_end|>a<|endoftext|>", addSpecial: false, parseSpecial: true);
        Assert.Equal([151645, 151644, 151645, 64, 151643], ids);
    }

    [SkippableFact]
    public void Vocabulary_EndOfGenerationSets_MatchLlamaCpp()
    {
        Assert.Equal([128247, 151643, 151645, 151662, 151663, 151664], Qwen2.EndOfGenerationIds);
        Assert.Equal([128001, 128009], LlamaBpe.EndOfGenerationIds);
        Assert.Equal([2], LlamaSpm.EndOfGenerationIds);
        Assert.Equal(151645, Qwen2.Vocabulary.EotId);
        Assert.False(Qwen2.IsEndOfGeneration(151644));
        Assert.False(Qwen2.IsEndOfGeneration(-1));
    }

    [SkippableFact]
    public void Vocabulary_SpecialIdsAndFlags_FollowMetadataAndLlamaCppDefaults()
    {
        Assert.Equal((1, 2, true), (LlamaSpm.BosId, LlamaSpm.EosId, LlamaSpm.AddBos));
        Assert.Equal((151643, 151643, false), (Qwen2.BosId, Qwen2.EosId, Qwen2.AddBos));
        Assert.Equal((128000, 128001, true), (LlamaBpe.BosId, LlamaBpe.EosId, LlamaBpe.AddBos));
        Assert.True(LlamaSpm.Vocabulary.AddSpacePrefix);
        Assert.True(LlamaBpe.Vocabulary.IgnoreMerges);
        Assert.Equal(PreTokenizerKind.Qwen2, Qwen2.Vocabulary.PreTokenizer);
        Assert.Null(LlamaSpm.ChatTemplate);
        Assert.Contains("<|im_start|>", Qwen2.ChatTemplate, StringComparison.Ordinal);
        Assert.Equal((32000, 151936, 128256), (LlamaSpm.VocabSize, Qwen2.VocabSize, LlamaBpe.VocabSize));
    }

    [SkippableFact]
    public void TokenBytes_ControlAndByteTokens_RenderAsLlamaCppPieces()
    {
        Assert.Empty(LlamaSpm.TokenBytes(1));
        Assert.Equal("<s>"u8.ToArray(), LlamaSpm.TokenBytes(1, renderSpecial: true));
        Assert.Equal([0x0A], LlamaSpm.TokenBytes(3 + 0x0A));
        Assert.Equal(" Hello"u8.ToArray(), LlamaSpm.TokenBytes(15043));
        Assert.Equal(" world"u8.ToArray(), Qwen2.TokenBytes(1879));
        Assert.Equal(Encoding.UTF8.GetBytes("我"), Qwen2.TokenBytes(35946));
    }
}
