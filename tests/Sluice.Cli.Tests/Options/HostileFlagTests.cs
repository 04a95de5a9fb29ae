using Sluice.Cli.Tests.Support;
namespace Sluice.Cli.Tests.Options;

/// <summary>
/// `sluice generate`, `bench engine`, `bench throughput` and `bench serve` with flags nobody should pass:
/// each ends with one "error: ..." line naming the flag and exit code 2 (a usage error), never a stack
/// trace, a hang or an absurd allocation. Command lines are split on spaces; '' is an empty argument and
/// {name} a file from <see cref="Files"/>.
/// </summary>
public sealed class HostileFlagTests
{
    public static TheoryData<string, string> Generate => new()
    {
        { "generate -p hi -n 0", "--max-tokens must be a whole number from 1 to 2147483647, got '0'" },
        { "generate -p hi -n -5", "--max-tokens must be a whole number from 1" },
        { "generate -p hi -n 1000000000000", "--max-tokens must be a whole number from 1 to 2147483647, got '1000000000000'" },
        { "generate -p hi -n 2147483648", "--max-tokens must be a whole number" },
        { "generate -p hi -n many", "--max-tokens must be a whole number" },
        { "generate -p hi -n 2147483647", "--max-tokens 2147483647 plus the prompt's" },
        { "generate -p hi -n 2048", "more than the model's context length 2048" },
        { "generate -p hi --temperature NaN", "--temperature must be between 0 and 100, got NaN" },
        { "generate -p hi --temperature Infinity", "--temperature must be between 0 and 100" },
        { "generate -p hi --temperature 1e39", "--temperature must be between 0 and 100" },
        { "generate -p hi --temperature -1", "--temperature must be between 0 and 100, got -1" },
        { "generate -p hi --temperature warm", "--temperature must be a number, got 'warm'" },
        { "generate -p hi --top-p NaN", "--top-p must be in (0, 1], got NaN" },
        { "generate -p hi --top-p 0", "--top-p must be in (0, 1], got 0" },
        { "generate -p hi --top-p 1.5", "--top-p must be in (0, 1]" },
        { "generate -p hi --top-p -Infinity", "--top-p must be in (0, 1]" },
        { "generate -p hi --min-p NaN", "--min-p must be in [0, 1], got NaN" },
        { "generate -p hi --min-p -0.5", "--min-p must be in [0, 1]" },
        { "generate -p hi --min-p Infinity", "--min-p must be in [0, 1]" },
        { "generate -p hi --repetition-penalty NaN", "--repetition-penalty must be in (0, 10], got NaN" },
        { "generate -p hi --repetition-penalty 0", "--repetition-penalty must be in (0, 10], got 0" },
        { "generate -p hi --repetition-penalty -1", "--repetition-penalty must be in (0, 10]" },
        { "generate -p hi --repetition-penalty Infinity", "--repetition-penalty must be in (0, 10]" },
        { "generate -p hi --top-k -2", "--top-k must be a whole number from -1 to 2147483647, got '-2'" },
        { "generate -p hi --top-k 99999999999", "--top-k must be a whole number" },
        { "generate -p hi --seed -1", "--seed must be a whole number from 0 to 18446744073709551615, got '-1'" },
        { "generate -p hi --seed 18446744073709551616", "--seed must be a whole number" },
        { "generate -p hi --seed 1.5", "--seed must be a whole number" },
        { "generate -p hi --threads 0", "--threads must be a whole number from 1 to 512, got '0'" },
        { "generate -p hi -t -1", "--threads must be a whole number from 1 to 512, got '-1'" },
        { "generate -p hi --threads 100000", "--threads must be a whole number from 1 to 512, got '100000'" },
        { "generate -p ''", "--prompt is empty" },
        { "generate -p {surrogate}", "--prompt is not valid Unicode: a lone surrogate U+D800 at character 2" },
        { "generate -n 3", "'--prompt' is required" },
        { "generate -p hi --bogus", "Unrecognized command or argument '--bogus'" },
        { "generate -p hi -m ''", "--model is empty" },
        { "generate -p hi -m {missing}", "file not found" },
        { "generate -p hi -m {empty}", "file is 0 bytes, too short to be a GGUF file" },
        { "generate -p hi -m {text}", "not a GGUF file" },
        { "generate -p hi -m {dir}", "folder has no config.json" },
        { "generate -p hi -m {truncated}", "more than the file can hold" },
    };

    public static TheoryData<string, string> BenchEngine => new()
    {
        { "bench engine --batch 0", "--batch item '0' must be a whole number from 1 to 1024" },
        { "bench engine --batch -1", "--batch item '-1' must be a whole number from 1 to 1024" },
        { "bench engine --batch 4,-16", "--batch item '-16' must be a whole number" },
        { "bench engine --batch 4,4", "--batch lists 4 twice" },
        { "bench engine --batch 4,,16", "--batch '4,,16' has an empty item" },
        { "bench engine --batch 4,", "--batch '4,' has an empty item" },
        { "bench engine --batch ''", "--batch '' has an empty item" },
        { "bench engine --batch 1000000", "--batch item '1000000' must be a whole number from 1 to 1024" },
        { "bench engine --batch 2147483648", "--batch item '2147483648' must be a whole number" },
        { "bench engine --batch four", "--batch item 'four' must be a whole number" },
        { "bench engine --threads 0", "--threads must be a whole number from 1 to 512, got '0'" },
        { "bench engine -t -1", "--threads must be a whole number from 1 to 512" },
        { "bench engine --threads 100000", "--threads must be a whole number from 1 to 512" },
        { "bench engine -r 0", "--repetitions must be a whole number from 1 to 1000, got '0'" },
        { "bench engine -r -3", "--repetitions must be a whole number from 1 to 1000" },
        { "bench engine -r 2147483647", "--repetitions must be a whole number from 1 to 1000" },
        { "bench engine -m {empty}", "too short to be a GGUF file" },
        { "bench engine -m {dir}", "folder has no config.json" },
        { "bench engine -m ''", "--model is empty" },
    };

    public static TheoryData<string, string> BenchThroughput => new()
    {
        { "bench throughput --num-prompts 0", "--num-prompts must be a whole number from 1 to 1000000, got '0'" },
        { "bench throughput --num-prompts -1", "--num-prompts must be a whole number from 1" },
        { "bench throughput --num-prompts 2147483647", "--num-prompts must be a whole number from 1 to 1000000" },
        { "bench throughput --input-len 0", "--input-len must be a whole number from 1" },
        { "bench throughput --output-len -1", "--output-len must be a whole number from 1" },
        { "bench throughput --output-len 1000000000000", "--output-len must be a whole number from 1" },
        { "bench throughput --input-len 2147483647", "--num-prompts 64 x --input-len 2147483647 is" },
        { "bench throughput --num-prompts 1000000 --input-len 1000", "prompt tokens; at most" },
        { "bench throughput --input-len 2000 --output-len 2000", "--input-len 2000 plus --output-len 2000 is 4000, more than the model's context length 2048" },
        { "bench throughput --input-len 100000 --num-prompts 1", "--input-len 100000 plus --output-len 128 is 100128, more than the model's context length" },
        { "bench throughput --max-num-seqs 0", "--max-num-seqs must be a whole number from 1 to 65536, got '0'" },
        { "bench throughput --max-num-seqs 1000000000", "--max-num-seqs must be a whole number from 1 to 65536" },
        { "bench throughput --max-num-batched-tokens 0", "--max-num-batched-tokens must be a whole number from 1 to 1048576" },
        { "bench throughput --max-num-batched-tokens 1000000000", "--max-num-batched-tokens must be a whole number from 1 to 1048576" },
        { "bench throughput --kv-cache-memory -1", "--kv-cache-memory '-1' is not a size" },
        { "bench throughput --kv-cache-memory 0", "--kv-cache-memory '0' must be from 1 byte" },
        { "bench throughput --kv-cache-memory NaNGiB", "--kv-cache-memory 'NaNGiB' is not a size" },
        { "bench throughput --kv-cache-memory 1e30", "unknown size unit" },
        { "bench throughput --kv-cache-memory 99999999TiB", "--kv-cache-memory '99999999TiB' must be from 1 byte to 9223372036854775807 bytes" },
        { "bench throughput --kv-cache-memory 1KiB", "holds no block" },
        { "bench throughput --threads 0", "--threads must be a whole number from 1 to 512" },
        { "bench throughput --threads 100000", "--threads must be a whole number from 1 to 512" },
        { "bench throughput --seed -1", "--seed must be a whole number from 0 to 2147483647, got '-1'" },
        { "bench throughput -m {text}", "not a GGUF file" },
    };

    public static TheoryData<string, string> BenchServe => new()
    {
        { "bench serve --url http://127.0.0.1:9 --concurrency 0", "--concurrency must be a whole number from 1 to 100000, got '0'" },
        { "bench serve --url http://127.0.0.1:9 -c 1000000000", "--concurrency must be a whole number from 1 to 100000" },
        { "bench serve --url http://127.0.0.1:9 --num-prompts 0", "--num-prompts must be a whole number from 1" },
        { "bench serve --url http://127.0.0.1:9 -n -4", "--num-prompts must be a whole number from 1" },
        { "bench serve --url http://127.0.0.1:9 --input-len 0", "--input-len must be a whole number from 1" },
        { "bench serve --url http://127.0.0.1:9 --output-len 0", "--output-len must be a whole number from 1" },
        { "bench serve --url http://127.0.0.1:9 --input-len 2147483647", "--num-prompts 32 x --input-len 2147483647 is" },
        { "bench serve --url http://127.0.0.1:9 --request-rate 0", "--request-rate must be a number of requests per second from 0.001 up, or inf, got '0'" },
        { "bench serve --url http://127.0.0.1:9 --request-rate -1", "--request-rate must be a number of requests per second" },
        { "bench serve --url http://127.0.0.1:9 --request-rate NaN", "--request-rate must be a number of requests per second" },
        { "bench serve --url http://127.0.0.1:9 --request-rate 1e-300", "--request-rate must be a number of requests per second" },
        { "bench serve --url http://127.0.0.1:9 --seed -1", "--seed must be a whole number from 0" },
        { "bench serve --url file:///etc/passwd", "--url must be an http:// or https:// address" },
        { "bench serve --url ''", "--url must be an http:// or https:// address" },
        { "bench serve --url not-a-url", "--url must be an http:// or https:// address" },
        { "bench serve --url ftp://127.0.0.1:9", "--url must be an http:// or https:// address" },
        { "bench serve --url http://127.0.0.1:9 --endpoint ''", "--endpoint must be a path" },
        { "bench serve --url http://127.0.0.1:9 --endpoint http://elsewhere/v1/completions", "--endpoint must be a path" },
        { "bench serve --url http://127.0.0.1:9 --api-key ''", "--api-key is empty" },
        { "bench serve --url http://127.0.0.1:9 --api-key {newline}", "--api-key holds a control character" },
        { "bench serve", "'--url' is required" },
    };

    [Theory]
    [MemberData(nameof(Generate))]
    public void Generate_HostileFlag_FailsWithOneLineNamingIt(string commandLine, string message) => Check(commandLine, message);

    [Theory]
    [MemberData(nameof(BenchEngine))]
    public void BenchEngine_HostileFlag_FailsWithOneLineNamingIt(string commandLine, string message) => Check(commandLine, message);

    [Theory]
    [MemberData(nameof(BenchThroughput))]
    public void BenchThroughput_HostileFlag_FailsWithOneLineNamingIt(string commandLine, string message) => Check(commandLine, message);

    [Theory]
    [MemberData(nameof(BenchServe))]
    public void BenchServe_HostileFlag_FailsBeforeConnecting(string commandLine, string message) => Check(commandLine, message);

    [Fact]
    public void Generate_TopKBeyondTheVocabularyAndSeedAtItsLargest_Runs()
    {
        var (rc, output, error) = CliRunner.Run("generate", "-p", "hi", "-n", "2", "--top-k", "2147483647", "--seed", "18446744073709551615");
        Assert.True(rc == 0, error);
        Assert.NotEmpty(output);
    }

    private void Check(string commandLine, string message)
    {
        string[] args = [.. commandLine.Split(' ').Select(Files.Expand)];
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var (rc, _, error) = CliRunner.Run(args);
        var errors = error.Split('\n').Where(l => l.StartsWith("error: ", StringComparison.Ordinal)).ToArray();
        Assert.True(errors.Length == 1, $"expected one error line, got: {error}");
        Assert.Contains(message, errors[0]);
        Assert.Equal(2, rc);
        Assert.DoesNotContain("Unhandled exception", error);
        Assert.DoesNotContain("   at ", error);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"took {watch.Elapsed}");
    }

    /// <summary>Model files that are not models, made once for the run.</summary>
    private static class Files
    {
        private static readonly string Root = Directory.CreateTempSubdirectory("sluice-hostile-").FullName;

        static Files()
        {
            File.WriteAllBytes(Path.Combine(Root, "empty.gguf"), []);
            File.WriteAllText(Path.Combine(Root, "text.gguf"), "this is not a model, just some text that is long enough");
            Directory.CreateDirectory(Path.Combine(Root, "folder"));
            // a valid GGUF header (version 3, no tensors, one metadata pair) whose metadata count promises more than the file has
            File.WriteAllBytes(Path.Combine(Root, "truncated.gguf"), [.. "GGUF"u8, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(Root, recursive: true);
        }

        public static string Expand(string arg) => arg switch
        {
            "''" => "",
            "{missing}" => Path.Combine(Root, "missing.gguf"),
            "{empty}" => Path.Combine(Root, "empty.gguf"),
            "{text}" => Path.Combine(Root, "text.gguf"),
            "{dir}" => Path.Combine(Root, "folder"),
            "{truncated}" => Path.Combine(Root, "truncated.gguf"),
            "{surrogate}" => "hi\uD800there",
            "{newline}" => "key\nmore",
            _ => arg,
        };
    }
}
