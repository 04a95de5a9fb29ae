using System.CommandLine;
using Sluice.Cli.Commands;
using Sluice.Cli.Options;
using Sluice.Cli.Tests.Support;

namespace Sluice.Cli.Tests.Commands;

/// <summary>`sluice gateway` refuses a config it cannot serve before listening: one error line naming the field, exit 2.</summary>
public sealed class GatewayCommandTests
{
    [Theory]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h:1', weight: 0}]}]", "models[0].deployments[0].weight: must be a whole number from 1 to 1000, not '0'")]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h:1', pool: long}]}]", "models[0].deployments[0].pool: no rule in pools sends requests to 'long'")]
    [InlineData("models: [{name: a, deployments: [{url: 'http://h:1'}]}]\nretry: {max_attempts: 2, jitter_ms: 1}", "retry.jitter_ms: unknown field")]
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

    private static readonly Dictionary<string, string> EveryVariable = new()
    {
        ["SLUICE_CONFIG"] = "/etc/sluice/gateway.yaml",
        ["SLUICE_HOST"] = "0.0.0.0",
        ["SLUICE_PORT"] = "4100",
        ["SLUICE_API_KEY"] = "sk-from-env-1",
        ["SLUICE_API_KEY_FILE"] = "/etc/sluice/keys",
        ["SLUICE_MASTER_KEY"] = "mk-from-env-1",
        ["SLUICE_SSL_CERTFILE"] = "/tls/tls.crt",
        ["SLUICE_SSL_KEYFILE"] = "/tls/tls.key",
        ["SLUICE_SHUTDOWN_TIMEOUT"] = "5",
        ["SLUICE_LOG_LEVEL"] = "debug",
        ["SLUICE_DEBUG_TRACE_MAX_SECONDS"] = "7",
    };

    private static (Command Gateway, ParseResult Parse) Gateway(params string[] args)
    {
        var gateway = GatewayCommand.Create();
        var root = new RootCommand { gateway };
        return (gateway, root.Parse(["gateway", .. args]));
    }

    [Fact]
    public void Environment_SetsEveryGatewayFlag_AndTheFlagWins()
    {
        var (gateway, parse) = Gateway("--port", "4200", "--log-level", "warning");
        var flags = gateway.Options.Where(o => o.Name is not ("--help" or "--version")).ToList();
        Assert.Equal(flags.Select(EnvironmentFlags.Variable).Order(), EveryVariable.Keys.Order()); // a new flag needs a line here
        var merged = GatewayCommand.Resolve(parse, gateway, EveryVariable);
        Assert.Empty(merged.Errors);
        Assert.All(flags, o => Assert.False(merged.GetResult(o)?.Implicit ?? true, $"{o.Name} not set from {EnvironmentFlags.Variable(o)}"));
        string? Text(string name) => merged.GetResult(flags.Single(o => o.Name == name))!.GetValueOrDefault<object?>() switch
        {
            string[] list => string.Join(",", list),
            var v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture),
        };
        Assert.Equal("4200", Text("--port"));
        Assert.Equal("warning", Text("--log-level"));
        Assert.Equal("/etc/sluice/gateway.yaml", Text("--config"));
        Assert.Equal("0.0.0.0", Text("--host"));
        Assert.Equal("sk-from-env-1", Text("--api-key"));
        Assert.Equal("mk-from-env-1", Text("--master-key"));
        Assert.Equal("5", Text("--shutdown-timeout"));
        Assert.Equal("7", Text("--debug-trace-max-seconds"));
    }

    [Theory]
    [InlineData("SLUICE_PORT", "40o0")]
    [InlineData("SLUICE_SHUTDOWN_TIMEOUT", "soon")]
    [InlineData("SLUICE_DEBUG_TRACE_MAX_SECONDS", "1m")]
    public void Environment_MalformedValue_FailsNamingTheVariable(string variable, string value)
    {
        var (gateway, parse) = Gateway("--config", "/g.yaml");
        var ex = Assert.Throws<FormatException>(() => GatewayCommand.Resolve(parse, gateway, new Dictionary<string, string> { [variable] = value }));
        Assert.StartsWith(variable + ":", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_WithoutConfigFromFlagOrVariable_FailsNamingBoth()
    {
        var (gateway, parse) = Gateway("--port", "0");
        var ex = Assert.Throws<CommandException>(() => GatewayCommand.Resolve(parse, gateway, new Dictionary<string, string>()));
        Assert.Contains("--config", ex.Message, StringComparison.Ordinal);
        Assert.Contains("SLUICE_CONFIG", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Gateway_ConfigFromTheEnvironmentOnly_IsRead()
    {
        var (gateway, parse) = Gateway();
        var merged = GatewayCommand.Resolve(parse, gateway, new Dictionary<string, string> { ["SLUICE_CONFIG"] = "/from/env.yaml" });
        Assert.Equal("/from/env.yaml", merged.GetValue((Option<string?>)gateway.Options.Single(o => o.Name == "--config")));
    }
}
