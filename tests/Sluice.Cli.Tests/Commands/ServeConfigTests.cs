using System.CommandLine;
using Sluice.Cli.Options;
using Sluice.Cli.Tests.Support;

namespace Sluice.Cli.Tests.Commands;

public sealed class ServeConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-config-").FullName;

    private string Write(string yaml)
    {
        string path = Path.Combine(_dir, $"{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public void Read_TakesScalarsAndLists()
    {
        var settings = ConfigFile.Read(Write("port: 8001\nserved_model_name: [a, b]\napi-key:\n  - k1\n  - k2\nenable-prefix-caching: false\n"));
        Assert.Equal(["8001"], settings.Single(s => s.Key == "port").Values);
        Assert.Equal(["a", "b"], settings.Single(s => s.Key == "served_model_name").Values);
        Assert.Equal(["k1", "k2"], settings.Single(s => s.Key == "api-key").Values);
        Assert.Equal(["false"], settings.Single(s => s.Key == "enable-prefix-caching").Values);
        Assert.Empty(ConfigFile.Read(Write("")));
    }

    [Fact]
    public void Merge_FillsWhatTheCommandLineLeavesOut_AndTheCommandLineWins()
    {
        var port = new Option<int>("--port") { DefaultValueFactory = _ => 8000 };
        var seqs = new Option<int?>("--max-num-seqs");
        var keys = new Option<string[]>("--api-key");
        var metrics = new Option<bool>("--enable-per-request-metrics");
        var warm = new Option<bool>("--no-warmup");
        var config = new Option<string?>("--config");
        var serve = new Command("serve") { port, seqs, keys, metrics, warm, config };
        var root = new RootCommand { serve };
        string file = Write("port: 8001\nmax_num_seqs: 8\napi-key: [a, b]\nenable-per-request-metrics: true\nno-warmup: false\n");

        var merged = ConfigFile.Merge(root.Parse(["serve", "--config", file, "--port", "9000"]), serve, file);
        Assert.Empty(merged.Errors);
        Assert.Equal(9000, merged.GetValue(port));
        Assert.Equal(8, merged.GetValue(seqs));
        Assert.Equal(["a", "b"], merged.GetValue(keys)!);
        Assert.True(merged.GetValue(metrics));
        Assert.False(merged.GetValue(warm));
    }

    [Fact]
    public void Serve_WithAnUnknownSetting_StopsNamingItAndTheFile()
    {
        string file = Write("max-num-seqs: 4\nmax-banana-count: 3\n");
        var (rc, _, error) = CliRunner.Run("serve", "--config", file);
        Assert.Equal(2, rc);
        Assert.Contains("max-banana-count", error);
        Assert.Contains(file, error);
    }

    [Fact]
    public void Serve_WithABadValueInTheFile_StopsWithTheParseError()
    {
        string file = Write("max-num-seqs: lots\n");
        var (rc, _, error) = CliRunner.Run("serve", "--config", file);
        Assert.Equal(2, rc);
        Assert.Contains("lots", error);
    }

    [Fact]
    public void Serve_WithAnUnknownSchedulingPolicy_StopsWithOneMessageFromFlagOrFile()
    {
        var (rc, _, error) = CliRunner.Run("serve", "--scheduling-policy", "LIFO", "--port", "0", "--model", NoSuchModel);
        Assert.Equal(2, rc);
        Assert.Equal("error: --scheduling-policy 'lifo': use fcfs or priority", error.Trim());

        string file = Write("scheduling-policy: lifo\nport: 0\n");
        var (rc2, _, error2) = CliRunner.Run("serve", "--config", file, "--model", NoSuchModel);
        Assert.Equal(2, rc2);
        Assert.Equal("error: --scheduling-policy 'lifo': use fcfs or priority", error2.Trim());
    }

    // A missing model makes a server that did start (the bug: no auth) end at once with rc 1 instead of hanging the test.
    private const string NoSuchModel = "/nonexistent/sluice-test-model.gguf";

    [Theory]
    [InlineData("", "empty")]
    [InlineData(" ", "only spaces")]
    public void Serve_WithAnEmptyApiKey_StopsNamingTheFlag(string key, string says)
    {
        var (rc, output, error) = CliRunner.Run("serve", "--api-key", key, "--port", "0", "--model", NoSuchModel);
        Assert.Equal(2, rc);
        Assert.Contains($"--api-key is {says}", error);
        Assert.DoesNotContain("listening", output);
    }

    [Fact]
    public void Serve_WithAnEmptyApiKeyInTheConfigFile_StopsNamingTheFile()
    {
        string file = Write("api-key: \"\"\nport: 0\n");
        var (rc, _, error) = CliRunner.Run("serve", "--config", file, "--model", NoSuchModel);
        Assert.Equal(2, rc);
        Assert.Contains($"api-key in {file} is empty", error);

        string list = Write("api-key: [sk-1, '']\nport: 0\n");
        var (rc2, _, error2) = CliRunner.Run("serve", "--config", list, "--model", NoSuchModel);
        Assert.Equal(2, rc2);
        Assert.Contains($"api-key in {list} is empty", error2);

        // keys on the command line replace the file's: then the flag is named
        var (rc3, _, error3) = CliRunner.Run("serve", "--config", file, "--api-key", "", "--model", NoSuchModel);
        Assert.Equal(2, rc3);
        Assert.Contains("--api-key is empty", error3);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("awq", "is not supported", "awq, gptq")]
    [InlineData("q5_k", "is not supported", "q8_0")]
    public void Serve_WithAnUnsupportedQuantization_StopsSayingWhatIsSupported(string value, string says, string lists)
    {
        var (rc, _, error) = CliRunner.Run("serve", "--quantization", value, "--port", "0", "--model", NoSuchModel);
        Assert.Equal(2, rc);
        Assert.Contains($"--quantization '{value}' {says}", error);
        Assert.Contains(lists, error);
    }

    [Fact]
    public void Serve_QuantizationWithoutModel_StopsNamingBoth()
    {
        var (rc, _, error) = CliRunner.Run("serve", "--quantization", "q8_0", "--port", "0");
        Assert.Equal(2, rc);
        Assert.Contains("--quantization", error);
        Assert.Contains("--model", error);
    }
}
