using System.Text.Json;

namespace Sluice.OpenAi.Tests.Streaming;

public sealed class ReceivedChunkTests
{
    private static ReceivedChunk Read(string json) => JsonSerializer.Deserialize(json, OpenAiJson.Default.ReceivedChunk)!;

    [Theory]
    [InlineData("""{"object":"text_completion","choices":[{"index":0,"text":"hi","logprobs":null,"finish_reason":null}]}""", true)]
    [InlineData("""{"object":"text_completion","choices":[{"index":0,"text":"","finish_reason":"length"}]}""", false)]
    [InlineData("""{"choices":[{"index":1,"delta":{"content":"hi"}}]}""", true)]
    [InlineData("""{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}""", false)]
    [InlineData("""{"choices":[{"index":0,"message":{"role":"assistant","content":"whole"}}]}""", true)]
    [InlineData("""{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}""", false)]
    public void Read_CompletionOrChatChunk_TellsWhetherItCarriesText(string json, bool hasText) =>
        Assert.Equal(hasText, Read(json).HasText);

    [Fact]
    public void Read_UsageChunk_GivesTheTokenCounts()
    {
        var usage = Read("""{"id":"x","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":2}}}""").Usage!;
        Assert.Equal((3, 4, 2), (usage.PromptTokens, usage.CompletionTokens, usage.PromptTokensDetails!.CachedTokens));
    }

    [Fact]
    public void Read_ErrorEvent_GivesTheErrorAndNoChoices()
    {
        var chunk = Read("""{"error":{"message":"boom","type":"server_error","param":null,"code":"internal_error"}}""");
        Assert.Null(chunk.Choices);
        Assert.Equal(new ErrorDetail("boom", "server_error", null, "internal_error"), chunk.Error);
    }

    [Fact]
    public void Read_ModelListOfAnotherServer_GivesTheNames()
    {
        var list = JsonSerializer.Deserialize("""{"object":"list","data":[{"id":"a","created":1.5e9,"owned_by":"x"},{"id":"b"}]}""", OpenAiJson.Default.ReceivedModelList)!;
        Assert.Equal(["a", "b"], list.Data!.Select(m => m.Id));
    }
}
