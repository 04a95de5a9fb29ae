using System.Security.Cryptography;
using System.Text.Json;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Routes;

/// <summary>GET /version: build, machine, engine, the effective configuration and the served model's sha256.</summary>
public sealed class VersionTests
{
    [Fact]
    public async Task Version_ReportsThreadsEngineConfigAndTheModelsSha256()
    {
        string file = TestModels.TinyFile;
        string expected = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));
        var settings = new[] { new ConfigSetting("max-num-seqs", "16", "environment"), new ConfigSetting("api-key", "<redacted: 1 key>", "flag") };
        await using var t = await TestServer.StartAsync(new ServerOptions { ModelPath = file, Settings = settings });
        JsonElement version = default;
        for (int i = 0; i < 300; i++)
        {
            version = JsonDocument.Parse(await t.Client.GetStringAsync("/version")).RootElement;
            if (version.GetProperty("model_sha256_status").GetString() == "done")
            {
                break;
            }
            await Task.Delay(100);
        }
        Assert.Equal(expected, version.GetProperty("model_sha256").GetString());
        Assert.Equal(file, version.GetProperty("model_path").GetString());
        Assert.Equal(t.Engine.Threads, version.GetProperty("threads").GetInt32());
        Assert.Equal(t.Server.Host.Name, version.GetProperty("model").GetString());
        Assert.Equal("16", version.GetProperty("engine").GetProperty("max_num_seqs").GetString());
        Assert.Equal(t.Engine.MaxModelLen.ToString(System.Globalization.CultureInfo.InvariantCulture), version.GetProperty("engine").GetProperty("max_model_len").GetString());
        var config = version.GetProperty("config").EnumerateArray().ToList();
        Assert.Equal(2, config.Count);
        Assert.Equal("environment", config[0].GetProperty("source").GetString());
        Assert.Equal("<redacted: 1 key>", config[1].GetProperty("value").GetString());
        Assert.True(version.TryGetProperty("commit", out _));
    }

    [Fact]
    public async Task Version_WithoutAModelFile_SaysWhyThereIsNoDigest()
    {
        await using var t = await TestServer.StartAsync();
        var version = JsonDocument.Parse(await t.Client.GetStringAsync("/version")).RootElement;
        Assert.Equal(JsonValueKind.Null, version.GetProperty("model_sha256").ValueKind);
        Assert.Contains("demo", version.GetProperty("model_sha256_status").GetString());
    }

    [Fact]
    public async Task Version_ListsTheContinuationFieldsTheServerTakes()
    {
        // what `sluice gateway` reads before it sends this server a continuation (continued_token_ids, or the older way)
        await using var t = await TestServer.StartAsync();
        var version = JsonDocument.Parse(await t.Client.GetStringAsync("/version")).RootElement;
        Assert.Equal(["continued_tokens", "continued_token_ids"], version.GetProperty("continuation").EnumerateArray().Select(f => f.GetString()));
    }
}
