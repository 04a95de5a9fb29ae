using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using Sluice.Server.Tests.Support;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;
using ChatMessage = OpenAI.Chat.ChatMessage;
using ChatResponseFormat = OpenAI.Chat.ChatResponseFormat;

namespace Sluice.Server.Tests.Clients;

/// <summary>
/// Structured outputs through real clients against the tiny random-weight model: its words mean nothing, but every
/// constrained answer must parse and validate against its schema, and a stream must reassemble into the whole answer.
/// </summary>
public sealed class StructuredOutputTests
{
    private const string Schema = """
        {"type":"object","properties":{"color":{"type":"string","enum":["red","green","blue"]},"ok":{"type":"boolean"},
         "sizes":{"type":"array","items":{"enum":[1,2,3]},"minItems":1,"maxItems":3},"note":{"type":["null","boolean"]}},
         "required":["color","ok","sizes","note"],"additionalProperties":false}
        """;

    private static OpenAIClient Client(TestServer t) => new(new ApiKeyCredential("unused"), new OpenAIClientOptions
    {
        Endpoint = new Uri(t.BaseUri, "/v1"),
        RetryPolicy = new ClientRetryPolicy(0),
    });

    private static Task<TestServer> Start() => TestServer.StartAsync(new ServerOptions { ServedModelNames = ["tiny-chat"] });

    /// <summary>Checks an answer against <see cref="Schema"/> by hand, independently of the grammar that made it.</summary>
    private static void AssertValid(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal(["color", "ok", "sizes", "note"], root.EnumerateObject().Select(p => p.Name));
        Assert.Contains(root.GetProperty("color").GetString(), new[] { "red", "green", "blue" });
        Assert.True(root.GetProperty("ok").ValueKind is JsonValueKind.True or JsonValueKind.False);
        var sizes = root.GetProperty("sizes").EnumerateArray().Select(e => e.GetInt32()).ToList();
        Assert.InRange(sizes.Count, 1, 3);
        Assert.All(sizes, s => Assert.InRange(s, 1, 3));
        Assert.True(root.GetProperty("note").ValueKind is JsonValueKind.Null or JsonValueKind.True or JsonValueKind.False);
    }

    [Fact]
    public async Task Sdk_JsonSchemaFormat_WholeAndStreamedAgreeAndValidate()
    {
        await using var t = await Start();
        var chat = Client(t).GetChatClient("tiny-chat");
        ChatMessage[] messages = [new UserChatMessage("Describe the thing as JSON.")];
        for (int seed = 0; seed < 4; seed++)
        {
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK
            var options = new ChatCompletionOptions
            {
                MaxOutputTokenCount = 200,
                Temperature = 1,
                Seed = seed,
                ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("thing", BinaryData.FromString(Schema), jsonSchemaIsStrict: true),
            };
#pragma warning restore OPENAI001
            ChatCompletion whole = await chat.CompleteChatAsync(messages, options);
            Assert.Equal(ChatFinishReason.Stop, whole.FinishReason);
            AssertValid(whole.Content[0].Text);

            var streamed = new StringBuilder();
            ChatFinishReason? finish = null;
            await foreach (var update in chat.CompleteChatStreamingAsync(messages, options))
            {
                foreach (var part in update.ContentUpdate)
                {
                    streamed.Append(part.Text);
                }
                finish ??= update.FinishReason;
            }
            Assert.Equal(whole.Content[0].Text, streamed.ToString());
            Assert.Equal(ChatFinishReason.Stop, finish);
        }
    }

    [Fact]
    public async Task Sdk_JsonObjectFormat_MaxTokensMidObject_FinishesLength()
    {
        await using var t = await Start();
        var chat = Client(t).GetChatClient("tiny-chat");
        ChatCompletion c = await chat.CompleteChatAsync([new UserChatMessage("JSON please")],
            new ChatCompletionOptions { MaxOutputTokenCount = 1, Temperature = 0, ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat() });
        Assert.Equal(ChatFinishReason.Length, c.FinishReason);
        Assert.StartsWith("{", c.Content[0].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Completions_GuidedChoice_AnswerIsOneOfTheChoices()
    {
        await using var t = await Start();
        for (int seed = 0; seed < 4; seed++)
        {
            var (status, body, _) = await t.PostJsonAsync("/v1/completions",
                $$"""{"prompt": "Pick:", "max_tokens": 20, "seed": {{seed}}, "guided_choice": ["yes", "no", "maybe not"]}""");
            Assert.Equal(200, status);
            var choice = body.GetProperty("choices")[0];
            Assert.Contains(choice.GetProperty("text").GetString(), new[] { "yes", "no", "maybe not" });
            Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        }
    }

    [Fact]
    public async Task Completions_GbnfGrammar_AnswerIsInTheLanguage()
    {
        await using var t = await Start();
        const string gbnf = "root ::= num (\\\"+\\\" num){0,2}\\nnum ::= [1-9] [0-9]{0,2}";
        for (int seed = 0; seed < 4; seed++)
        {
            string field = seed % 2 == 0 ? "grammar" : "guided_grammar";
            var (status, body, _) = await t.PostJsonAsync("/v1/completions",
                $$"""{"prompt": "Sum:", "max_tokens": 40, "seed": {{seed}}, "{{field}}": "{{gbnf}}"}""");
            Assert.Equal(200, status);
            var choice = body.GetProperty("choices")[0];
            Assert.Matches(@"^[1-9][0-9]{0,2}(\+[1-9][0-9]{0,2}){0,2}$", choice.GetProperty("text").GetString());
            Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        }
    }

    [Fact]
    public async Task Chat_GuidedRegex_AnswerMatchesThePattern()
    {
        await using var t = await Start();
        var (status, body, _) = await t.PostJsonAsync("/v1/chat/completions",
            """{"messages": [{"role": "user", "content": "phone?"}], "max_tokens": 30, "seed": 3, "guided_regex": "\\d{3}-\\d{4}"}""");
        Assert.Equal(200, status);
        var text = body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        Assert.Matches(@"^\d{3}-\d{4}$", text);
    }

    [Fact]
    public async Task Completions_GuidedJson_ValidatesAgainstTheSchema()
    {
        await using var t = await Start();
        var (status, body, _) = await t.PostJsonAsync("/v1/completions",
            $$"""{"prompt": "JSON:", "max_tokens": 200, "seed": 5, "guided_json": {{Schema}}}""");
        Assert.Equal(200, status);
        AssertValid(body.GetProperty("choices")[0].GetProperty("text").GetString()!);
    }

    public enum Condition
    {
        Sunny,
        Cloudy,
        Rainy,
    }

    public sealed record Forecast(Condition Condition, bool Windy, Condition? Tomorrow);

    [Fact]
    public async Task ExtensionsAi_GetResponseAsyncOfT_GivesATypedObject()
    {
        await using var t = await Start();
        IChatClient client = Client(t).GetChatClient("tiny-chat").AsIChatClient();
        for (int seed = 0; seed < 3; seed++)
        {
            var response = await client.GetResponseAsync<Forecast>("What is the weather?",
                new ChatOptions { Seed = seed, MaxOutputTokens = 200, Temperature = 1 });
            Assert.True(response.TryGetResult(out var forecast), response.Text);
            Assert.True(Enum.IsDefined(forecast!.Condition));
        }
    }
}
