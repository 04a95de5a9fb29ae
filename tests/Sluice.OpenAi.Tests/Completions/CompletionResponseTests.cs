using System.Text.Json;

namespace Sluice.OpenAi.Tests.Completions;

public sealed class CompletionResponseTests
{
    [Fact]
    public void Serialize_Answer_WritesOpenAisNullsAndLeavesOutEmptyAdditions()
    {
        var response = new CompletionResponse("cmpl-1", 7, "m", [new CompletionChoice(0, "hi", null, "stop")]);
        Assert.Equal("""{"id":"cmpl-1","created":7,"model":"m","choices":[{"index":0,"text":"hi","logprobs":null,"finish_reason":"stop"}],"object":"text_completion"}""",
            JsonSerializer.Serialize(response, OpenAiJson.Web.CompletionResponse));
    }

    [Fact]
    public void Serialize_WithUsageAndStopReason_AddsThemAfterTheChoices()
    {
        var response = new CompletionResponse("cmpl-1", 7, "m", [new CompletionChoice(0, "", null, "stop") { StopReason = "\n" }])
        {
            Usage = new Usage(1, 2, 3) { PromptTokensDetails = new PromptTokensDetails(0) },
        };
        Assert.Equal("""{"id":"cmpl-1","created":7,"model":"m","choices":[{"index":0,"text":"","logprobs":null,"finish_reason":"stop","stop_reason":"\n"}],"object":"text_completion","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"prompt_tokens_details":{"cached_tokens":0}}}""",
            JsonSerializer.Serialize(response, OpenAiJson.Web.CompletionResponse));
    }

    [Fact]
    public void Deserialize_RequestWithUnknownFields_SkipsThem()
    {
        var body = JsonSerializer.Deserialize("""{"prompt":"x","max_tokens":3,"whatever":{"a":1},"stream_options":{"include_usage":true}}""", OpenAiJson.Default.CompletionRequestBody)!;
        Assert.Equal(3, body.MaxTokens);
        Assert.True(body.StreamOptions!.IncludeUsage);
        Assert.Equal("x", body.Prompt!.Value.GetString());
    }
}
