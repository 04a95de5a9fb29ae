using System.Text.Json;
using Microsoft.Extensions.Logging;
using Sluice.Engine.Models;
using Sluice.Server.Tests.Fuzzing;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Routes;

public sealed class ModelsEndpointTests
{
    [Fact]
    public async Task Models_DemoModel_SaysWhatItIsAndWasTrainedOn()
    {
        var log = new ServerLog();
        await using var t = await TestServer.StartAsync(load: DemoModel.Load, hooks: new ServerHooks { Logging = b => b.AddProvider(log) });
        var card = JsonDocument.Parse(await t.Client.GetStringAsync("/v1/models")).RootElement.GetProperty("data")[0];
        Assert.Equal(DemoModel.Name, card.GetProperty("id").GetString());
        Assert.Equal(DemoModel.Name, card.GetProperty("root").GetString());
        Assert.Contains("King James Bible", card.GetProperty("description").GetString());
        Assert.Contains(log.Entries, e => e.Message.Contains("built-in demo model", StringComparison.Ordinal) && e.Message.Contains("King James Bible", StringComparison.Ordinal));

        var (status, chat, _) = await t.PostJsonAsync("/v1/chat/completions",
            """{"messages": [{"role": "user", "content": "Who made the heaven and the earth?"}], "max_tokens": 48, "temperature": 0}""");
        Assert.Equal(200, status);
        string answer = chat.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        Assert.True(answer.Count(char.IsLetter) >= 10, $"answer: '{answer}'");
    }

    [Fact]
    public async Task Models_OtherModel_HasNoDescription()
    {
        await using var t = await TestServer.StartAsync();
        var card = JsonDocument.Parse(await t.Client.GetStringAsync("/v1/models")).RootElement.GetProperty("data")[0];
        Assert.False(card.TryGetProperty("description", out _));
    }
}
