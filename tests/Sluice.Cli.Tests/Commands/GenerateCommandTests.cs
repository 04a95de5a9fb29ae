using System.Text.Json;
using Sluice.Cli.Tests.Support;

namespace Sluice.Cli.Tests.Commands;

public sealed class GenerateCommandTests
{
    [Fact]
    public void Generate_DemoModelJson_PrintsIdsTextAndTop10Logprobs()
    {
        {
            var (rc, output, error) = CliRunner.Run("generate", "-p", "Hello", "-n", "5", "--temperature", "0", "--json");
            Assert.True(rc == 0, error);
            Assert.Contains("built-in demo model", error);
            using var doc = JsonDocument.Parse(output);
            var root = doc.RootElement;
            Assert.True(root.GetProperty("prompt_token_ids").GetArrayLength() > 0);
            Assert.Equal(5, root.GetProperty("token_ids").GetArrayLength());
            Assert.Equal(JsonValueKind.String, root.GetProperty("text").ValueKind);
            var tops = root.GetProperty("top_logprobs");
            Assert.Equal(5, tops.GetArrayLength());
            foreach (var pos in tops.EnumerateArray())
            {
                Assert.Equal(10, pos.GetArrayLength());
                Assert.True(pos[0].GetProperty("logprob").GetDouble() <= 0);
            }
            // greedy: the first generated token is the top-1 of its position
            Assert.Equal(root.GetProperty("token_ids")[0].GetInt32(), tops[0][0].GetProperty("id").GetInt32());

            var (rc2, output2, _) = CliRunner.Run("generate", "-p", "Hello", "-n", "5", "--temperature", "0", "--json");
            Assert.Equal(0, rc2);
            Assert.Equal(output, output2);
        }
    }

    [Fact]
    public void Generate_SpecialTokenText_ParsedAsTheServerDoes_LiteralWithNoParseSpecial()
    {
        const string Text = "<|endoftext|>Hello";
        using var model = Engine.Models.DemoModel.Load();
        int[] special = model.Tokenizer.Encode(Text, addSpecial: true, parseSpecial: true);
        int[] literal = model.Tokenizer.Encode(Text, addSpecial: true, parseSpecial: false);
        Assert.NotEqual(special, literal);

        static int[] PromptIds(params string[] extra)
        {
            var (rc, output, error) = CliRunner.Run(["generate", "-p", Text, "-n", "1", "--temperature", "0", "--json", .. extra]);
            Assert.True(rc == 0, error);
            using var doc = JsonDocument.Parse(output);
            return [.. doc.RootElement.GetProperty("prompt_token_ids").EnumerateArray().Select(e => e.GetInt32())];
        }
        Assert.Equal(special, PromptIds());
        Assert.Equal(literal, PromptIds("--no-parse-special"));
    }

    [Fact]
    public void Generate_MissingModelFile_FailsNamingIt()
    {
        var (rc, _, error) = CliRunner.Run("generate", "-m", "/nonexistent/model.gguf", "-p", "x");
        Assert.Equal(2, rc);
        Assert.Contains("/nonexistent/model.gguf", error);
        Assert.Contains("not found", error);
    }

    [Fact]
    public void Generate_TruncatedModelFile_FailsWithFormatError()
    {
        var path = Path.Combine(Path.GetTempPath(), $"sluice-trunc-{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(path, "GGUF\u0003\0\0\0"u8.ToArray());
        try
        {
            var (rc, _, error) = CliRunner.Run("generate", "-m", path, "-p", "x");
            Assert.Equal(2, rc);
            Assert.Contains("too short", error);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
