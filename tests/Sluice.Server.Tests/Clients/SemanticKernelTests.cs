using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;
using OpenAI;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Clients;

/// <summary>Semantic Kernel's automatic function calling, through its OpenAI connector, against the tiny model.</summary>
public sealed class SemanticKernelTests
{
    [Fact]
    public async Task Kernel_RequiredFunctionChoiceWithAutoInvoke_InvokesThePluginFunction()
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { ServedModelNames = ["tiny-chat"] });
        var client = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions
        {
            Endpoint = new Uri(t.BaseUri, "/v1"),
            RetryPolicy = new ClientRetryPolicy(0),
        });
        var invoked = new List<bool>();
        var builder = Kernel.CreateBuilder();
        builder.AddOpenAIChatCompletion("tiny-chat", client);
        builder.Plugins.AddFromFunctions("clock", [KernelFunctionFactory.CreateFromMethod((bool utc) =>
        {
            invoked.Add(utc);
            return "noon";
        }, "get_time", "The time")]);
        var kernel = builder.Build();

        var history = new ChatHistory();
        history.AddUserMessage("What time is it?");
        // required makes the first answer a call; Semantic Kernel offers the functions on that first request only
        var settings = new OpenAIPromptExecutionSettings { FunctionChoiceBehavior = FunctionChoiceBehavior.Required(), MaxTokens = 60, Seed = 5 };
        var answer = await kernel.GetRequiredService<IChatCompletionService>().GetChatMessageContentAsync(history, settings, kernel);

        Assert.NotNull(answer);
        Assert.NotEmpty(invoked);
        var call = history.SelectMany(m => m.Items).OfType<FunctionCallContent>().First();
        Assert.Equal(("clock", "get_time"), (call.PluginName, call.FunctionName));
        var result = history.SelectMany(m => m.Items).OfType<FunctionResultContent>().First();
        Assert.Equal(call.Id, result.CallId);
        Assert.Equal("noon", result.Result?.ToString());
    }
}
