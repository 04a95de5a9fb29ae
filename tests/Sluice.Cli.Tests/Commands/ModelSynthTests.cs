using System.CommandLine;
using Sluice.Cli.Commands;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Quantization;

namespace Sluice.Cli.Tests.Commands;

public sealed class ModelSynthTests
{
    private static readonly string[] SmallShape =
        ["--embedding-length", "64", "--block-count", "1", "--head-count", "2", "--head-count-kv", "1", "--feed-forward-length", "64"];

    [Fact]
    public void Synth_writes_a_model_with_the_default_cl100k_tokenizer_and_info_describes_it()
    {
        var path = TempPath();
        try
        {
            var (rc, output, error) = Run(["model", "synth", "--type", "Q8_0", "--tied", "--seed", "5", "-o", path, .. SmallShape]);
            Assert.True(rc == 0, error);
            Assert.Contains("wrote " + path, output);
            Assert.Contains("Q8_0 (Q8_0 x", output);
            Assert.Contains("vocab 100277", output);

            using (var file = GgufFile.Open(path))
            {
                Assert.Equal(64, file.GetInt("llama.embedding_length"));
                Assert.Equal(GgmlType.Q8_0, file.GetTensor("token_embd.weight").Type);
                Assert.False(file.TryGetTensor("output.weight", out _));
            }

            (rc, output, error) = Run(["model", "info", path]);
            Assert.True(rc == 0, error);
            Assert.Contains("shape:         64 wide, 1 layers, 2/1 heads (head dim 32), ffn 64, context 2048", output);
            Assert.Contains("vocab:         100,277 tokens", output);
            Assert.Contains("tokenizer:     gpt2, pre-tokenizer llama-bpe, chat template: yes", output);
            Assert.Contains("tied to token_embd", output);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("--shape", "gpt-7b", "unknown shape 'gpt-7b' (known: tiny, qwen2.5-0.5b, llama-3.2-1b)")]
    [InlineData("--type", "Q5_K", "unknown type 'Q5_K'")]
    [InlineData("--vocab", "/nonexistent/vocab.gguf", "file not found")]
    [InlineData("--head-count-kv", "3", "multiple of the KV head count")]
    [InlineData("--arch", "gpt9", "unknown architecture 'gpt9'")]
    public void Synth_reports_bad_arguments_clearly(string option, string value, string message)
    {
        var path = TempPath();
        var (rc, _, error) = Run(["model", "synth", option, value, "-o", path]);
        Assert.Equal(2, rc);
        Assert.Contains("error: ", error);
        Assert.Contains(message, error);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Synth_rejects_tied_and_untied_together()
    {
        var (rc, _, error) = Run(["model", "synth", "--tied", "--untied", "-o", TempPath()]);
        Assert.Equal(2, rc);
        Assert.Contains("contradict", error);
    }

    [Fact]
    public void Synth_rejects_a_vocabulary_file_that_is_not_gguf()
    {
        var vocab = Path.GetTempFileName();
        try
        {
            File.WriteAllText(vocab, "this is not a gguf file, just some text that is long enough");
            var (rc, _, error) = Run(["model", "synth", "--vocab", vocab, "-o", TempPath()]);
            Assert.Equal(2, rc);
            Assert.Contains("not a GGUF file", error);
        }
        finally
        {
            File.Delete(vocab);
        }
    }

    [Fact]
    public void Synth_requires_an_output_path()
    {
        var (rc, _, _) = Run(["model", "synth"]);
        Assert.NotEqual(0, rc);
    }

    private static (int Rc, string Output, string Error) Run(string[] args)
    {
        var root = new RootCommand();
        root.Subcommands.Add(ModelCommands.Create());
        var output = new StringWriter();
        var error = new StringWriter();
        int rc = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (rc, output.ToString(), error.ToString());
    }

    private static string TempPath() => Path.Combine(Path.GetTempPath(), $"sluice-cli-synth-{Guid.NewGuid():N}.gguf");
}
