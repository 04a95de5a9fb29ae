using System.Diagnostics;
using System.Security.Cryptography;
using Sluice.Cli.Tests.Support;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;

namespace Sluice.Cli.Tests.Verification;

/// <summary>`sluice model verify` and `serve --verify-checksum`: a corrupt or swapped model file is caught before it is served.</summary>
public sealed class ModelVerifyTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("sluice-verify-");

    private string Model(string name = "m.gguf", int seed = 5)
    {
        string path = Path.Combine(_dir.FullName, name);
        var shape = ModelShape.Tiny with { Name = "verify", EmbeddingLength = 32, BlockCount = 1, HeadCount = 2, HeadCountKv = 2, FeedForwardLength = 64, ContextLength = 128, VocabSize = null, Tied = true };
        ModelSynthesizer.Write(new SynthesisOptions(shape, WeightMix.F16, SynthVocabulary.Bytes()) { Seed = (ulong)seed }, path);
        return path;
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public void Verify_WithTheRightDigest_SaysOk_AndWithAnotherFilesDigest_Fails()
    {
        string model = Model();
        var (rc, output, _) = CliRunner.Run("model", "verify", model, "--sha256", Sha256(model).ToUpperInvariant());
        Assert.Equal(0, rc);
        Assert.StartsWith("OK", output);
        Assert.Contains("tensors, all within the file", output);

        string other = Model("other.gguf", seed: 6);
        (rc, output, string error) = CliRunner.Run("model", "verify", model, "--sha256", Sha256(other));
        Assert.Equal(1, rc);
        Assert.Contains("MISMATCH", output);
        Assert.Contains($"expected {Sha256(other)}", output);
        Assert.Contains("do not serve it", error);
    }

    [Fact]
    public void Verify_ReadsSha256sumManifests_AndCatchesATruncatedFile()
    {
        string model = Model();
        string manifest = Path.Combine(_dir.FullName, "SHA256SUMS");
        var sha256sum = Process.Start(new ProcessStartInfo("sha256sum", ["m.gguf"]) { WorkingDirectory = _dir.FullName, RedirectStandardOutput = true })!;
        File.WriteAllText(manifest, sha256sum.StandardOutput.ReadToEnd());
        sha256sum.WaitForExit();
        Assert.Equal(0, CliRunner.Run("model", "verify", model, "--manifest", manifest).Rc);

        var bytes = File.ReadAllBytes(model);
        File.WriteAllBytes(model, bytes[..^4096]);
        var (rc, output, _) = CliRunner.Run("model", "verify", model, "--manifest", manifest);
        Assert.Equal(1, rc);
        Assert.Contains("MISMATCH", output);
        Assert.Contains("DAMAGED", output);
    }

    [Fact]
    public void Verify_RefusesBadArguments()
    {
        string model = Model();
        Assert.Equal(2, CliRunner.Run("model", "verify", model, "--sha256", "abc").Rc);
        Assert.Equal(2, CliRunner.Run("model", "verify", model, "--sha256", Sha256(model), "--manifest", model).Rc);
    }

    [Fact]
    public void Serve_WithVerifyChecksum_RefusesASwappedFileAtLoad()
    {
        string model = Model();
        string wrong = new('0', 64);
        var (rc, _, error) = CliRunner.Run("serve", "--model", model, "--port", "0", "--no-warmup", "--verify-checksum", wrong, "--log-level", "error");
        Assert.Equal(1, rc);
        Assert.Contains("checksum mismatch (--verify-checksum)", error);
        Assert.Contains(Sha256(model), error);
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
