using System.CommandLine;
using Sluice.Cli.Commands;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Models;

namespace Sluice.Cli.Tests.Commands;

/// <summary>`model synth --format hf`, `model info DIR` (with --load-stats) and `model convert DIR`.</summary>
public sealed class HfFolderCommandTests : IDisposable
{
    private static readonly string[] SmallShape =
        ["--embedding-length", "64", "--block-count", "1", "--head-count", "2", "--head-count-kv", "1", "--feed-forward-length", "64"];

    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-cli-hf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void SynthHf_InfoAndConvert_DescribeAndRoundTripTheSameModel()
    {
        string folder = Path.Combine(_dir, "model");
        string gguf = Path.Combine(_dir, "synth.gguf");
        var (rc, output, error) = Run(["model", "synth", "--format", "hf", "--shard-mib", "1", "--seed", "3", "-o", folder, .. SmallShape]);
        Assert.True(rc == 0, error);
        Assert.Contains("wrote " + folder, output);
        foreach (var f in new[] { "config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "model.safetensors.index.json" })
        {
            Assert.True(File.Exists(Path.Combine(folder, f)), f);
        }

        (rc, output, error) = Run(["model", "info", folder, "--load-stats"]);
        Assert.True(rc == 0, error);
        Assert.Contains("safetensors shards + model.safetensors.index.json", output);
        Assert.Contains("architecture:  llama (LlamaForCausalLM, float16)", output);
        Assert.Contains("shape:         64 wide, 1 layers, 2/1 heads (head dim 32), ffn 64, context 2048", output);
        Assert.Contains("vocab:         100,277 tokens", output);
        Assert.Contains("byte-level BPE, pre-tokenizer llama-bpe", output);
        Assert.Contains("loaded:        hf (Hugging Face folder)", output);
        Assert.Contains("resident:      before", output);

        (rc, output, error) = Run(["model", "convert", folder, "--output", gguf, "--type", "Q8_0"]);
        Assert.True(rc == 0, error);
        Assert.Contains("Q8_0 (", output);
        using (var file = GgufFile.Open(gguf))
        {
            Assert.Equal("llama", file.GetString("general.architecture"));
            Assert.Equal(Engine.Quantization.GgmlType.Q8_0, file.GetTensor("blk.0.attn_q.weight").Type);
        }
        using var fromFolder = ModelLoader.Load(folder);
        using var fromGguf = ModelLoader.Load(gguf);
        Assert.Equal(("hf", "gguf"), (fromFolder.Format, fromGguf.Format));
        string text = "Hello world, 12345!";
        Assert.Equal(fromFolder.Tokenizer.Encode(text), fromGguf.Tokenizer.Encode(text));
    }

    [Fact]
    public void SynthHf_QuantizedType_IsRefused()
    {
        var (rc, _, error) = Run(["model", "synth", "--format", "hf", "--type", "Q4_0", "-o", Path.Combine(_dir, "q"), .. SmallShape]);
        Assert.Equal(2, rc);
        Assert.Contains("F32, F16 or BF16", error);
    }

    [Fact]
    public void Info_FolderWithoutModel_ReportsTheMissingFile()
    {
        var (rc, _, error) = Run(["model", "info", _dir]);
        Assert.Equal(2, rc);
        Assert.Contains("config.json", error);
    }

    [Fact]
    public void Convert_NotAFolder_ReportsTheError()
    {
        var (rc, _, error) = Run(["model", "convert", Path.Combine(_dir, "nothing"), "--output", Path.Combine(_dir, "x.gguf")]);
        Assert.Equal(2, rc);
        Assert.Contains("config.json", error);
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
}
