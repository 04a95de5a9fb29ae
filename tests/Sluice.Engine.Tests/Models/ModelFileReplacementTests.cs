using Sluice.Engine.Models;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;
using Sluice.Engine.Serving;
using Sluice.Engine.Tests.Support;
using static Sluice.Engine.Tests.Support.EngineTestKit;

namespace Sluice.Engine.Tests.Models;

/// <summary>
/// A loaded model does not depend on its file staying as it was: replacing the file by rename or
/// overwriting it in place (issue 16: the next request died on the memory-mapped file) changes nothing.
/// </summary>
public sealed class ModelFileReplacementTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-replace-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("F16", false)]
    [InlineData("F16", true)]
    [InlineData("Q8_0", false)] // tied Q8_0: the output matmul repacks the embedding, whose rows are still read
    [InlineData("Q8_0", true)]
    public async Task Generate_AfterTheFileIsReplaced_GivesTheSameTokens(string type, bool inPlace)
    {
        string path = Path.Combine(_dir, "model.gguf");
        Synthesize(path, Mix(type), seed: 7);
        using var model = ModelLoader.Load(path);
        using var engine = new LlmEngine(model, Options(maxSeqs: 4));
        var prompt = Prompt(model, "replace me");
        var before = (await Collect(engine.Submit(Greedy(prompt, 24)))).Tokens;

        string other = Path.Combine(_dir, "other.gguf");
        Synthesize(other, Mix(type), seed: 8);
        if (inPlace)
        {
            // as `cp other.gguf model.gguf` does: truncate the same inode, then write
            using (var f = new FileStream(path, FileMode.Truncate, FileAccess.Write))
            {
                f.Write(File.ReadAllBytes(other).AsSpan(0, 1000));
            }
        }
        else
        {
            File.Move(other, path, overwrite: true);
        }

        var after = (await Collect(engine.Submit(Greedy(prompt, 24)))).Tokens;
        Assert.Equal(before, after);
    }

    private static WeightMix Mix(string name) => WeightMix.TryParse(name, out var mix) ? mix : throw new ArgumentException(name);

    private static void Synthesize(string path, WeightMix mix, ulong seed)
    {
        var shape = TestModels.TinyShape with { Name = "replace", ContextLength = 256 };
        ModelSynthesizer.Write(new SynthesisOptions(shape, mix, SynthVocabulary.Bytes()) { Seed = seed }, path);
    }
}
