using Sluice.Cli.Tests.Support;

namespace Sluice.Cli.Tests.Commands;

/// <summary>`sluice gateway` refuses a config it cannot serve before listening: one error line naming the field, exit 2.</summary>
public sealed class GatewayCommandTests
{
    [Theory]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h:1', weight: 0}]}]", "models[0].deployments[0].weight: must be a whole number from 1 to 1000, not '0'")]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h:1', pool: long}]}]", "models[0].deployments[0].pool: no rule in pools sends requests to 'long'")]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h:1'}]}]\nretry: {max_attempts: 2, jitter: 1s}", "retry.jitter: unknown field")]
    public void Gateway_BadConfig_ExitsTwoNamingTheField(string yaml, string expected)
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, yaml);
            var (rc, _, error) = CliRunner.Run("gateway", "--config", path, "--port", "0");
            Assert.Equal(2, rc);
            Assert.Contains(expected, error, StringComparison.Ordinal);
            Assert.StartsWith("error: ", error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Gateway_MissingConfigFile_ExitsTwo()
    {
        var (rc, _, error) = CliRunner.Run("gateway", "--config", "/nonexistent/gateway.yaml");
        Assert.Equal(2, rc);
        Assert.Contains("/nonexistent/gateway.yaml: cannot read", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Gateway_EmptyMasterKey_ExitsTwo()
    {
        var (rc, _, error) = CliRunner.Run("gateway", "--config", "/nonexistent/gateway.yaml", "--master-key", "");
        Assert.Equal(2, rc);
        Assert.Contains("--master-key", error, StringComparison.Ordinal);
    }
}
