using System.Text;
using System.Text.Json;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Tokenization;

/// <summary>
/// Every golden record of every conformance model: llama-server's prompt tokenization and pieces,
/// and the bytes of each generated token, from the tokenizer read out of that model's own GGUF.
/// </summary>
public sealed class GoldenTokenizationTests
{
    [SkippableTheory]
    [InlineData("tiny-llama-f16")]
    [InlineData("tiny-llama-q8_0")]
    [InlineData("tiny-llama-q4_0")]
    [InlineData("tiny-llama-q4_k_m")]
    [InlineData("tiny-qwen2-f16")]
    [InlineData("tiny-qwen2-q8_0")]
    [InlineData("tiny-llama3-f32")]
    public void GoldenRecords_ModelTokenizer_MatchesServerTokensPiecesAndGeneratedBytes(string model)
    {
        var tokenizer = TestTokenizers.Load(Conformance.Model(model + ".gguf"));
        var failures = new StringBuilder();
        int records = 0;
        foreach (var line in File.ReadLines(Conformance.Golden(model + ".jsonl")))
        {
            using var json = JsonDocument.Parse(line);
            var r = json.RootElement;
            string id = r.GetProperty("prompt_id").GetString()!;
            records++;

            var expectedTokens = r.GetProperty("prompt_tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var tokens = tokenizer.Encode(r.GetProperty("prompt").GetString()!, addSpecial: true);
            if (!tokens.SequenceEqual(expectedTokens))
            {
                failures.AppendLine($"{id}: prompt tokens\n  expected {string.Join(' ', expectedTokens)}\n  actual   {string.Join(' ', tokens)}");
                continue;
            }
            bool bosAdded = tokenizer.AddBos && tokens.Length > 0 && tokens[0] == tokenizer.BosId;
            if (bosAdded != r.GetProperty("bos_added").GetBoolean())
            {
                failures.AppendLine($"{id}: bos_added {r.GetProperty("bos_added").GetBoolean()}, ours {bosAdded}");
            }

            var pieces = r.GetProperty("prompt_pieces").EnumerateArray().ToArray();
            for (int i = 0; i < tokens.Length; i++)
            {
                // /tokenize renders pieces with special tokens spelled out.
                CheckBytes(failures, $"{id}: prompt piece {i} (token {tokens[i]})", PieceBytes(pieces[i]), tokenizer.TokenBytes(tokens[i], renderSpecial: true));
            }

            var generated = r.GetProperty("generated_tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var positions = r.GetProperty("positions").EnumerateArray().ToArray();
            var all = new List<byte>();
            for (int i = 0; i < generated.Length; i++)
            {
                var expected = positions[i].GetProperty("piece_bytes").EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray();
                var actual = tokenizer.TokenBytes(generated[i]);
                CheckBytes(failures, $"{id}: generated piece {i} (token {generated[i]})", expected, actual);
                all.AddRange(actual);
            }

            string expectedText = r.GetProperty("generated_text").GetString()!;
            var detokenizer = tokenizer.CreateDetokenizer(startOfSequence: false);
            string streamed = string.Concat(generated.Select(detokenizer.Push)) + detokenizer.Flush();
            if (streamed != expectedText || Encoding.UTF8.GetString([.. all]) != expectedText)
            {
                failures.AppendLine($"{id}: generated text\n  expected {VocabConformanceTests.Escape(expectedText)}\n  streamed {VocabConformanceTests.Escape(streamed)}");
            }
        }
        Assert.Equal(11, records);
        Assert.True(failures.Length == 0, $"{model}:\n{failures}");
    }

    private static byte[] PieceBytes(JsonElement piece) => piece.ValueKind == JsonValueKind.String
        ? Encoding.UTF8.GetBytes(piece.GetString()!)
        : piece.EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray();

    private static void CheckBytes(StringBuilder failures, string what, byte[] expected, byte[] actual)
    {
        if (!expected.AsSpan().SequenceEqual(actual))
        {
            failures.AppendLine($"{what}: expected [{string.Join(',', expected)}], actual [{string.Join(',', actual)}]");
        }
    }
}
