using System.CommandLine;
using Sluice.Cli.Commands;
using Sluice.Cli.Options;

namespace Sluice.Cli.Tests.Options;

/// <summary>SLUICE_&lt;FLAG&gt; variables: precedence flag > environment > config file, errors naming the variable, secrets redacted.</summary>
public sealed class EnvironmentFlagsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-env-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (Command Serve, Option<string?> Config, ParseResult Parse) Serve(params string[] args)
    {
        var serve = ServeCommand.Create();
        var root = new RootCommand { serve };
        var config = (Option<string?>)serve.Options.Single(o => o.Name == "--config");
        return (serve, config, root.Parse(["serve", .. args]));
    }

    private static string? Value(IReadOnlyList<Server.ConfigSetting> settings, string name) => settings.Single(s => s.Name == name).Value;

    private static string Source(IReadOnlyList<Server.ConfigSetting> settings, string name) => settings.Single(s => s.Name == name).Source;

    [Fact]
    public void Variable_IsTheFlagUpperCasedWithUnderscores()
    {
        var (serve, _, _) = Serve();
        Assert.Equal("SLUICE_MAX_NUM_SEQS", EnvironmentFlags.Variable(serve.Options.Single(o => o.Name == "--max-num-seqs")));
        Assert.Equal("SLUICE_API_KEY", EnvironmentFlags.Variable(serve.Options.Single(o => o.Name == "--api-key")));
    }

    [Fact]
    public void Resolve_FlagBeatsEnvironmentBeatsConfigFile()
    {
        string file = Path.Combine(_dir, "serve.yaml");
        File.WriteAllText(file, "max-num-seqs: 8\nmax-num-queued-reqs: 9\nblock-size: 32\nno-warmup: true\n");
        var env = new Dictionary<string, string>
        {
            ["SLUICE_MAX_NUM_SEQS"] = "20",
            ["SLUICE_MAX_NUM_QUEUED_REQS"] = "21",
            ["SLUICE_NO_WARMUP"] = "false",
            ["SLUICE_ENABLE_PER_REQUEST_METRICS"] = "1",
            ["SLUICE_CACHE"] = "/not/a/flag", // other SLUICE_ variables are left alone
        };
        var (serve, config, parse) = Serve("--config", file, "--max-num-seqs", "30");
        var (merged, settings) = EffectiveConfig.Resolve(parse, serve, config, env);
        Assert.Empty(merged.Errors);
        Assert.Equal(("30", "flag"), (Value(settings, "max-num-seqs"), Source(settings, "max-num-seqs")));
        Assert.Equal(("21", "environment"), (Value(settings, "max-num-queued-reqs"), Source(settings, "max-num-queued-reqs")));
        Assert.Equal(("32", "config"), (Value(settings, "block-size"), Source(settings, "block-size")));
        Assert.Equal(("false", "environment"), (Value(settings, "no-warmup"), Source(settings, "no-warmup")));
        Assert.Equal(("true", "environment"), (Value(settings, "enable-per-request-metrics"), Source(settings, "enable-per-request-metrics")));
        Assert.Equal(("8000", "default"), (Value(settings, "port"), Source(settings, "port")));
    }

    [Theory]
    [InlineData("SLUICE_MAX_NUM_SEQS", "many")]
    [InlineData("SLUICE_NO_WARMUP", "sometimes")]
    [InlineData("SLUICE_PORT", "80a")]
    public void Resolve_MalformedValue_FailsNamingTheVariable(string variable, string value)
    {
        var (serve, config, parse) = Serve();
        var ex = Assert.Throws<FormatException>(() => EffectiveConfig.Resolve(parse, serve, config, new Dictionary<string, string> { [variable] = value }));
        Assert.StartsWith(variable + ":", ex.Message);
    }

    [Fact]
    public void Resolve_ApiKeys_AreRedacted()
    {
        var (serve, config, parse) = Serve("--api-key", "sk-secret-1", "--api-key", "sk-secret-2");
        var (_, settings) = EffectiveConfig.Resolve(parse, serve, config, new Dictionary<string, string>());
        Assert.Equal("<redacted: 2 keys>", Value(settings, "api-key"));
        Assert.DoesNotContain(settings, s => s.Value?.Contains("sk-secret", StringComparison.Ordinal) == true);
        Assert.DoesNotContain("sk-secret", EffectiveConfig.Text(settings));
    }
}
