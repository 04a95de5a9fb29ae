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

namespace Sluice.Server.Tests.Clients;

/// <summary>
/// Tool calling through the OpenAI .NET SDK and Microsoft.Extensions.AI against the tiny random-weight model: with
/// tool_choice required or a named function, every call names an offered function with arguments valid against its
/// parameters, whole or streamed; with auto, a stream reassembles into the answer of the same request made whole.
/// </summary>
public sealed class ToolCallingTests
{
    private static OpenAIClient Client(TestServer t) => new(new ApiKeyCredential("unused"), new OpenAIClientOptions
    {
        Endpoint = new Uri(t.BaseUri, "/v1"),
        RetryPolicy = new ClientRetryPolicy(0),
    });

    private static readonly ChatTool Weather = ChatTool.CreateFunctionTool("get_weather", "The weather in a city",
        BinaryData.FromString("""{"type":"object","properties":{"unit":{"enum":["c","f"]},"days":{"type":"array","items":{"enum":[1,2]},"maxItems":2}},"required":["unit","days"],"additionalProperties":false}"""));

    private static readonly ChatTool Clock = ChatTool.CreateFunctionTool("get_time", "The time",
        BinaryData.FromString("""{"type":"object","properties":{"utc":{"type":"boolean"}},"required":["utc"],"additionalProperties":false}"""));

    private static void AssertValidCall(string name, string arguments)
    {
        using var doc = JsonDocument.Parse(arguments);
        var a = doc.RootElement;
        if (name == "get_weather")
        {
            Assert.Contains(a.GetProperty("unit").GetString(), new[] { "c", "f" });
            Assert.InRange(a.GetProperty("days").GetArrayLength(), 0, 2);
        }
        else
        {
            Assert.Equal("get_time", name);
            Assert.True(a.GetProperty("utc").ValueKind is JsonValueKind.True or JsonValueKind.False);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Sdk_RequiredOrNamedToolChoice_CallsAnOfferedFunctionWholeAndStreamed(bool named)
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { ServedModelNames = ["tiny-chat"] });
        var chat = Client(t).GetChatClient("tiny-chat");
        ChatMessage[] messages = [new UserChatMessage("What is the weather?")];
        for (int seed = 0; seed < 3; seed++)
        {
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK
            var options = new ChatCompletionOptions
            {
                MaxOutputTokenCount = 120, // the tools take most of the tiny model's 1024 byte tokens of context
                Seed = seed,
                Tools = { Weather, Clock },
                ToolChoice = named ? ChatToolChoice.CreateFunctionChoice("get_time") : ChatToolChoice.CreateRequiredChoice(),
            };
#pragma warning restore OPENAI001
            ChatCompletion whole = await chat.CompleteChatAsync(messages, options);
            Assert.Equal(ChatFinishReason.ToolCalls, whole.FinishReason);
            var call = Assert.Single(whole.ToolCalls);
            Assert.StartsWith("call_", call.Id, StringComparison.Ordinal);
            if (named)
            {
                Assert.Equal("get_time", call.FunctionName);
            }
            AssertValidCall(call.FunctionName, call.FunctionArguments.ToString());

            string? name = null, id = null;
            var arguments = new StringBuilder();
            ChatFinishReason? finish = null;
            await foreach (var update in chat.CompleteChatStreamingAsync(messages, options))
            {
                foreach (var part in update.ToolCallUpdates)
                {
                    Assert.Equal(0, part.Index);
                    name ??= part.FunctionName;
                    id ??= part.ToolCallId;
                    arguments.Append(part.FunctionArgumentsUpdate?.ToString());
                }
                finish ??= update.FinishReason;
            }
            Assert.Equal(ChatFinishReason.ToolCalls, finish);
            Assert.Equal(call.FunctionName, name);
            Assert.Equal(call.FunctionArguments.ToString(), arguments.ToString());
            Assert.NotNull(id);
        }
    }

    [Fact]
    public async Task Sdk_AutoToolChoice_StreamReassemblesIntoTheWholeAnswer()
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { ServedModelNames = ["tiny-chat"] });
        var chat = Client(t).GetChatClient("tiny-chat");
        ChatMessage[] messages =
        [
            new UserChatMessage("What is the weather?"),
            new AssistantChatMessage([ChatToolCall.CreateFunctionToolCall("call_1", "get_time", BinaryData.FromString("""{"utc":true}"""))]),
            new ToolChatMessage("call_1", "sunny"),
        ];
        for (int seed = 0; seed < 3; seed++)
        {
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK
            var options = new ChatCompletionOptions { MaxOutputTokenCount = 24, Seed = seed, Tools = { Clock }, AllowParallelToolCalls = seed != 1 };
#pragma warning restore OPENAI001
            ChatCompletion whole = await chat.CompleteChatAsync(messages, options);
            Assert.Contains(whole.FinishReason, new[] { ChatFinishReason.Stop, ChatFinishReason.Length, ChatFinishReason.ToolCalls });
            foreach (var call in whole.ToolCalls)
            {
                AssertValidCall(call.FunctionName, call.FunctionArguments.ToString());
            }

            var content = new StringBuilder();
            var calls = new SortedDictionary<int, (string? Name, StringBuilder Arguments)>();
            ChatFinishReason? finish = null;
            await foreach (var update in chat.CompleteChatStreamingAsync(messages, options))
            {
                content.Append(string.Concat(update.ContentUpdate.Select(p => p.Text)));
                foreach (var part in update.ToolCallUpdates)
                {
                    if (!calls.TryGetValue(part.Index, out var c))
                    {
                        calls[part.Index] = c = (part.FunctionName, new StringBuilder());
                    }
                    c.Arguments.Append(part.FunctionArgumentsUpdate?.ToString());
                }
                finish ??= update.FinishReason;
            }
            Assert.Equal(whole.FinishReason, finish);
            Assert.Equal(string.Concat(whole.Content.Select(p => p.Text)), content.ToString());
            Assert.Equal(whole.ToolCalls.Select(c => (c.FunctionName, c.FunctionArguments.ToString())), calls.Values.Select(c => (c.Name!, c.Arguments.ToString())));
        }
    }

    [Fact]
    public async Task ExtensionsAi_UseFunctionInvocation_InvokesTheOfferedFunctionWithValidArguments()
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { ServedModelNames = ["tiny-chat"] });
        var invoked = new List<bool>();
        var clock = AIFunctionFactory.Create((bool utc) =>
        {
            invoked.Add(utc);
            return "noon";
        }, "get_time", "The time");
        using IChatClient client = new ChatClientBuilder(Client(t).GetChatClient("tiny-chat").AsIChatClient()).UseFunctionInvocation().Build();
        // required makes the first answer a call; the function invoker then asks again with the choice left to the model
        var response = await client.GetResponseAsync("What time is it?", new ChatOptions
        {
            Tools = [clock],
            ToolMode = ChatToolMode.RequireAny,
            MaxOutputTokens = 60,
            Seed = 3,
        });
        Assert.NotEmpty(invoked);
        var call = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().First();
        Assert.Equal("get_time", call.Name);
        var result = response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().First();
        Assert.Equal(call.CallId, result.CallId);
        Assert.Null(result.Exception); // the arguments bound to (bool utc)
        Assert.Equal("noon", result.Result?.ToString());
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tool_choice":"required"}""", "tool_choice")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"response_format":{"type":"json_object"}}""", "tools")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto","guided_regex":"a+"}""", "tool_choice")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tools":"f"}""", "tools")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}""", "tool_choice")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string","pattern":"(?=x)"}}}}}],"tool_choice":"required"}""", "tools")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"bad name"}}],"tool_choice":"required"}""", "tools")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","guided_choice":["a"]}""", "tool_choice")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"functions":[{"name":"f"}]}""", "functions")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"function_call":"auto"}""", "function_call")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"modalities":["text","audio"]}""", "modalities")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"prediction":{"type":"content","content":"x"}}""", "prediction")]
    public async Task Chat_ToolsThatCannotBeHonoured_Are400NamingTheField(string json, string param)
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync("/v1/chat/completions", json);
        Assert.Equal(400, status);
        Assert.Equal(param, body.GetProperty("error").GetProperty("param").GetString());
    }
}
