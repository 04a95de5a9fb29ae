#pragma warning disable OPENAI001 // the SDK's Responses client is marked experimental
using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using OpenAI;
using OpenAI.Responses;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Clients;

/// <summary>The official OpenAI .NET SDK's Responses client (OpenAI 2.15.0's <c>ResponsesClient</c>), unchanged, against the real server.</summary>
public sealed class OpenAiResponsesSdkTests
{
    private const string Key = "sk-responses-sdk";
    private const string Model = "tiny-chat";

    private static ResponsesClient Client(TestServer t) => new OpenAIClient(new ApiKeyCredential(Key), new OpenAIClientOptions
    {
        Endpoint = new Uri(t.BaseUri, "/v1"),
        RetryPolicy = new ClientRetryPolicy(0),
    }).GetResponsesClient();

    private static Task<TestServer> Start() => TestServer.StartAsync(new ServerOptions { ApiKeys = [Key], ServedModelNames = [Model] });

    private static CreateResponseOptions Options(string text, int maxTokens) => new()
    {
        Model = Model,
        InputItems = { ResponseItem.CreateUserMessageItem(text) },
        MaxOutputTokenCount = maxTokens,
        Temperature = 0,
    };

    [Fact]
    public async Task Responses_TextWholeAndStreamed_GiveTheSameGreedyOutput()
    {
        await using var t = await Start();
        var client = Client(t);
        var options = Options("Who made the heaven?", 8);
        options.Instructions = "Answer briefly.";
        ResponseResult whole = await client.CreateResponseAsync(options);
        Assert.Equal(ResponseStatus.Incomplete, whole.Status); // cut by max_output_tokens
        Assert.Equal(8, whole.Usage.OutputTokenCount);
        string text = whole.GetOutputText();
        Assert.False(string.IsNullOrEmpty(text));

        var streamed = new StringBuilder();
        ResponseResult? final = null;
        var streaming = Options("Who made the heaven?", 8);
        streaming.Instructions = "Answer briefly.";
        streaming.StreamingEnabled = true;
        var stream = await client.CreateResponseStreamingAsync(streaming);
        await foreach (var update in stream)
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta)
            {
                streamed.Append(delta.Delta);
            }
            final = update switch
            {
                StreamingResponseCompletedUpdate c => c.Response,
                StreamingResponseIncompleteUpdate i => i.Response,
                _ => final,
            };
        }
        Assert.NotNull(final);
        Assert.Equal(final.GetOutputText(), streamed.ToString());
        Assert.Equal(text, streamed.ToString());
    }

    [Fact]
    public async Task Responses_RequiredFunctionTool_GivesAFunctionCallOfAnOfferedFunctionWithValidArguments()
    {
        await using var t = await Start();
        var client = Client(t);
        var options = Options("What is the weather in Paris?", 120);
        options.Tools.Add(ResponseTool.CreateFunctionTool("get_weather",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string","maxLength":12}},"required":["city"],"additionalProperties":false}"""),
            strictModeEnabled: true, functionDescription: "The weather in a city"));
        options.ToolChoice = ResponseToolChoice.CreateRequiredChoice();
        ResponseResult result = await client.CreateResponseAsync(options);
        var call = Assert.IsType<FunctionCallResponseItem>(Assert.Single(result.OutputItems, i => i is FunctionCallResponseItem));
        Assert.Equal("get_weather", call.FunctionName);
        Assert.False(string.IsNullOrEmpty(call.CallId));
        using var args = System.Text.Json.JsonDocument.Parse(call.FunctionArguments);
        Assert.True(args.RootElement.GetProperty("city").GetString()!.Length <= 12);
    }

    [Fact]
    public async Task Responses_JsonSchemaTextFormat_OutputValidatesAgainstTheSchema()
    {
        await using var t = await Start();
        var client = Client(t);
        var options = Options("A city?", 200);
        options.Temperature = 0.7f;
        options.TextOptions = new ResponseTextOptions
        {
            TextFormat = ResponseTextFormat.CreateJsonSchemaFormat("city",
                BinaryData.FromString("""{"type":"object","properties":{"city":{"enum":["Oslo","Paris","Rome"]},"founded":{"type":"integer","minimum":1,"maximum":2025}},"required":["city","founded"],"additionalProperties":false}"""),
                jsonSchemaIsStrict: true),
        };
        ResponseResult result = await client.CreateResponseAsync(options);
        Assert.Equal(ResponseStatus.Completed, result.Status);
        using var doc = System.Text.Json.JsonDocument.Parse(result.GetOutputText());
        Assert.Contains(doc.RootElement.GetProperty("city").GetString(), new[] { "Oslo", "Paris", "Rome" });
        Assert.InRange(doc.RootElement.GetProperty("founded").GetInt32(), 1, 2025);
    }
}
