using System.Text.Json;

namespace Sluice.Engine.Tests.Support;

/// <summary>One line of a golden file (see the conformance README for the fields).</summary>
public sealed record GoldenRecord(
    string PromptId,
    string Prompt,
    int[] PromptTokens,
    int[] GeneratedTokens,
    GoldenPosition[] Positions)
{
    public static List<GoldenRecord> Load(string path)
    {
        var list = new List<GoldenRecord>();
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            var positions = r.GetProperty("positions").EnumerateArray().Select(p => new GoldenPosition(
                p.GetProperty("token").GetInt32(),
                p.GetProperty("piece_bytes").EnumerateArray().Select(b => (byte)b.GetInt32()).ToArray(),
                p.GetProperty("margin").GetDouble(),
                p.GetProperty("top_logprobs").EnumerateArray().Select(e => (e[0].GetInt32(), e[1].GetDouble())).ToArray())).ToArray();
            list.Add(new GoldenRecord(
                r.GetProperty("prompt_id").GetString()!,
                r.GetProperty("prompt").GetString()!,
                r.GetProperty("prompt_tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                r.GetProperty("generated_tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                positions));
        }
        return list;
    }
}

public sealed record GoldenPosition(int Token, byte[] PieceBytes, double Margin, (int Id, double LogProb)[] TopLogProbs);
