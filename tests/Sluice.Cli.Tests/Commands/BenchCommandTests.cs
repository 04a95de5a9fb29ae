using System.Text.Json;
using Sluice.Cli.Tests.Support;

namespace Sluice.Cli.Tests.Commands;

public sealed class BenchCommandTests
{
    [Fact]
    public void BenchThroughput_Json_ReportsRequestAndTokenRates()
    {
        var (rc, output, error) = CliRunner.Run("bench", "throughput", "--num-prompts", "6", "--input-len", "20", "--output-len", "8", "--json");
        Assert.True(rc == 0, error);
        using var doc = JsonDocument.Parse(output);
        Assert.True(doc.RootElement.GetProperty("requests_per_s").GetDouble() > 0);
        Assert.True(doc.RootElement.GetProperty("output_tokens_per_s").GetDouble() > 0);
        Assert.Contains("6/6 requests", error);
    }

    [Fact]
    public void BenchEngine_Json_HasLlamaBenchKeys()
    {
        var (rc, output, error) = CliRunner.Run("bench", "engine", "--batch", "4,16", "-r", "1", "--json");
        Assert.True(rc == 0, error);
        using var doc = JsonDocument.Parse(output);
        var r = doc.RootElement;
        foreach (var key in new[] { "pp128", "pp512", "tg128", "membw_gbps", "decode_bw_fraction" })
        {
            Assert.True(r.GetProperty(key).GetDouble() > 0, key);
        }
        Assert.True(r.GetProperty("batch_decode").GetProperty("4").GetDouble() > 0);
        Assert.True(r.GetProperty("batch_decode").GetProperty("16").GetDouble() > 0);
    }

    [Fact]
    public void BenchThroughput_BadArguments_FailClearly()
    {
        var (rc, _, error) = CliRunner.Run("bench", "throughput", "--num-prompts", "0");
        Assert.Equal(2, rc);
        Assert.Contains("--num-prompts", error);
    }

    [Fact]
    public void BenchEngine_ZeroRepetitions_FailsClearly()
    {
        var (rc, _, error) = CliRunner.Run("bench", "engine", "-r", "0");
        Assert.Equal(2, rc);
        Assert.Contains("--repetitions must be a whole number from 1", error);
    }
}
