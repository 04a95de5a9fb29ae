using Sluice.Cli.Commands;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Quantization;

namespace Sluice.Cli.Tests.Commands;

public sealed class ModelInfoTests
{
    [Fact]
    public void Describe_NamesArchitectureAndTypeMix()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sluice-info-{Guid.NewGuid():N}.gguf");
        try
        {
            new GgufWriter().Add("general.architecture", "qwen2")
                .AddTensor("a", GgmlType.F32, [32, 2], new byte[256])
                .AddTensor("b", GgmlType.Q8_0, [32, 4], new byte[4 * 34])
                .Write(path);
            using var f = GgufFile.Open(path);
            var text = ModelCommands.Describe(f);
            Assert.Contains("architecture:  qwen2", text);
            Assert.Contains("parameters:    192", text);
            Assert.Contains("Q8_0 x1", text);
            Assert.Contains("F32 x1", text);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
