using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Clients;

/// <summary>The official OpenAI .NET SDK, unchanged, against the real server.</summary>
public sealed class OpenAiDotnetSdkTests
{
    private const string Key = "sk-sdk-test";

    private static OpenAIClient Client(TestServer t, string key = Key) => new(new ApiKeyCredential(key), new OpenAIClientOptions
    {
        Endpoint = new Uri(t.BaseUri, "/v1"),
        RetryPolicy = new ClientRetryPolicy(0),
    });

    private static Task<TestServer> Start() => TestServer.StartAsync(new ServerOptions { ApiKeys = [Key], ServedModelNames = ["tiny-chat"] });

    [Fact]
    public async Task Chat_WholeAndStreamed_GiveTheSameGreedyAnswerWithUsage()
    {
        await using var t = await Start();
        var chat = Client(t).GetChatClient("tiny-chat");
        ChatMessage[] messages = [new SystemChatMessage("You are terse."), new UserChatMessage("Hello there")];
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 6, Temperature = 0 };

        ChatCompletion whole = await chat.CompleteChatAsync(messages, options);
        Assert.Equal(ChatMessageRole.Assistant, whole.Role);
        Assert.Equal(ChatFinishReason.Length, whole.FinishReason);
        Assert.Equal(6, whole.Usage.OutputTokenCount);
        Assert.Equal("tiny-chat", whole.Model);
        string text = whole.Content[0].Text;

        var streamed = new StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(messages, options))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.Equal(text, streamed.ToString());
        Assert.Equal(ChatFinishReason.Length, finish);
        Assert.Equal(6, usage?.OutputTokenCount);
    }

    [Fact]
    public async Task Embeddings_EmbeddingClient_OneNormalizedVectorPerInputWithUsage()
    {
        await using var t = await Start();
        var client = Client(t).GetEmbeddingClient("tiny-chat");
        OpenAIEmbeddingCollection many = await client.GenerateEmbeddingsAsync(["In the beginning", "God created the heaven and the earth"]);
        Assert.Equal(2, many.Count);
        Assert.Equal(1, many[1].Index);
        Assert.True(many.Usage.InputTokenCount > 0);
        Assert.Equal(many.Usage.InputTokenCount, many.Usage.TotalTokenCount);
        var first = many[0].ToFloats().ToArray();
        Assert.Equal(t.Server.Host.Model!.Config.EmbeddingLength, first.Length);
        Assert.Equal(1.0, Math.Sqrt(first.Sum(x => (double)x * x)), 4);

        OpenAIEmbedding one = await client.GenerateEmbeddingAsync("In the beginning"); // the SDK asks for base64
        Assert.Equal(first, one.ToFloats().ToArray());

        var refused = await Assert.ThrowsAsync<ClientResultException>(() =>
            client.GenerateEmbeddingAsync("In the beginning", new EmbeddingGenerationOptions { Dimensions = 8 }));
        Assert.Equal(400, refused.Status);
    }

    [Fact]
    public async Task Chat_Logprobs_AreReadByTheSdk()
    {
        await using var t = await Start();
        var chat = Client(t).GetChatClient("tiny-chat");
        ChatCompletion c = await chat.CompleteChatAsync([new UserChatMessage("hi")],
            new ChatCompletionOptions { MaxOutputTokenCount = 3, IncludeLogProbabilities = true, TopLogProbabilityCount = 2 });
        Assert.Equal(3, c.ContentTokenLogProbabilities.Count);
        Assert.All(c.ContentTokenLogProbabilities, p => Assert.Equal(2, p.TopLogProbabilities.Count));
    }

    /// <summary>
    /// The .NET SDK has no public completions client (its LegacyCompletionClient is internal), so this sends
    /// /v1/completions through the SDK's own pipeline (auth, error classification) with a raw body.
    /// </summary>
    [Fact]
    public async Task Completions_ThroughTheSdkPipeline_WholeAndStreamed()
    {
        await using var t = await Start();
        var client = Client(t);
        async Task<string> Send(string body)
        {
            var message = client.Pipeline.CreateMessage(new Uri(t.BaseUri, "/v1/completions"), "POST", PipelineMessageClassifier.Create([200]));
            message.Request.Headers.Set("Content-Type", "application/json");
            message.Request.Content = BinaryContent.Create(BinaryData.FromString(body));
            await client.Pipeline.SendAsync(message);
            return message.Response!.Content.ToString();
        }
        using var whole = JsonDocument.Parse(await Send("""{"model": "tiny-chat", "prompt": "Once", "max_tokens": 5, "temperature": 0}"""));
        string text = whole.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
        var stream = Sse.Parse(await Send("""{"model": "tiny-chat", "prompt": "Once", "max_tokens": 5, "temperature": 0, "stream": true}"""));
        Assert.Equal(text, string.Concat(stream.Chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString())));
    }

    [Fact]
    public async Task Errors_SurfaceAsClientResultExceptionsWithTheStatus()
    {
        await using var t = await Start();
        var unknown = await Assert.ThrowsAsync<ClientResultException>(() => Client(t).GetChatClient("gpt-4o").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(404, unknown.Status);
        Assert.Contains("gpt-4o", unknown.Message);

        var denied = await Assert.ThrowsAsync<ClientResultException>(() => Client(t, "sk-wrong").GetChatClient("tiny-chat").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(401, denied.Status);

        var tooLong = await Assert.ThrowsAsync<ClientResultException>(() => Client(t).GetChatClient("tiny-chat")
            .CompleteChatAsync([new UserChatMessage(new string('x', 5000))], new ChatCompletionOptions { MaxOutputTokenCount = 10 }));
        Assert.Equal(400, tooLong.Status);
    }

    [Fact]
    public async Task Models_GetOneByName_ReadByTheSdkAndUnknownIs404()
    {
        await using var t = await Start();
        var models = Client(t).GetOpenAIModelClient();
        var model = (await models.GetModelAsync("tiny-chat")).Value;
        Assert.Equal("tiny-chat", model.Id);
        Assert.Equal("sluice", model.OwnedBy);
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => models.GetModelAsync("other/model"));
        Assert.Equal(404, ex.Status);
    }
}
