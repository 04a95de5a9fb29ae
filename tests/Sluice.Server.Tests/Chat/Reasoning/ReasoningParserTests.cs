using System.Text;
using System.Text.Json;
using Sluice.Server.Chat.Reasoning;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Chat.Reasoning;

/// <summary>
/// Thinking split from content as vLLM's Qwen 3 and DeepSeek-R1 reasoning parsers split it, whole and pushed in every
/// split, which must reassemble into the whole text's split.
/// </summary>
public sealed class ReasoningParserTests
{
    private static (string Reasoning, string Content) Run(ReasoningFormat format, IEnumerable<string> pieces)
    {
        var parser = new ReasoningParser(format);
        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        var list = pieces.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            var (r, c) = parser.Push(list[i], final: i == list.Count - 1);
            reasoning.Append(r);
            content.Append(c);
        }
        return (reasoning.ToString(), content.ToString());
    }

    public static TheoryData<ReasoningFormat, string, string, string> Cases => new()
    {
        { ReasoningFormat.Qwen3, "<think>\nLet me add: 2+2=4.\n</think>\n\nThe answer is 4.", "\nLet me add: 2+2=4.\n", "The answer is 4." },
        { ReasoningFormat.Qwen3, "The answer is 4.", "", "The answer is 4." },
        { ReasoningFormat.Qwen3, "  <think>x</think>y", "x", "y" },
        { ReasoningFormat.Qwen3, "<think>cut off mid-tho", "cut off mid-tho", "" },
        { ReasoningFormat.Qwen3, "<thin and more", "", "<thin and more" },
        { ReasoningFormat.Qwen3, "a </think> b", "", "a </think> b" },
        { ReasoningFormat.Qwen3, "<think>a < b and </thin is not </think>done</think>", "a < b and </thin is not ", "done</think>" },
        { ReasoningFormat.DeepSeekR1, "Okay, so 2+2.\n</think>\n\n4", "Okay, so 2+2.\n", "4" },
        { ReasoningFormat.DeepSeekR1, "<think>Hmm.</think>Yes.", "Hmm.", "Yes." },
        { ReasoningFormat.DeepSeekR1, "never closes", "never closes", "" },
        { ReasoningFormat.DeepSeekR1, "</think>", "", "" },
        { ReasoningFormat.DeepSeekR1, "", "", "" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Push_WholeText_SplitsThinkingFromContent(ReasoningFormat format, string text, string reasoning, string content) =>
        Assert.Equal((reasoning, content), Run(format, [text]));

    [Theory]
    [MemberData(nameof(Cases))]
    public void Push_EverySplitPointAndCharByChar_ReassemblesIntoTheWholeSplit(ReasoningFormat format, string text, string reasoning, string content)
    {
        for (int k = 0; k <= text.Length; k++)
        {
            Assert.Equal((reasoning, content), Run(format, [text[..k], text[k..]]));
            for (int j = k; j <= text.Length; j++)
            {
                Assert.Equal((reasoning, content), Run(format, [text[..k], text[k..j], text[j..]]));
            }
        }
        Assert.Equal((reasoning, content), Run(format, text.Select(c => c.ToString()).Append("")));
    }

    [Fact]
    public void Parse_UnknownName_RefusedNamingTheFlag() =>
        Assert.Contains("--reasoning-parser", Assert.Throws<FormatException>(() => ReasoningParser.Parse("granite")).Message);

    /// <summary>DeepSeek-R1's parser reads a reply that never closes its thinking as all reasoning: the tiny model's greedy text.</summary>
    [Fact]
    public async Task Chat_DeepSeekR1Parser_WholeAndStreamedPutTheUnclosedReplyInReasoningContent()
    {
        const string Body = """{"messages":[{"role":"user","content":"Hello"}],"max_tokens":8,"temperature":0}""";
        string plain;
        await using (var t = await TestServer.StartAsync())
        {
            var (_, body, _) = await t.PostJsonAsync("/v1/chat/completions", Body);
            plain = body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        }
        await using (var t = await TestServer.StartAsync(new ServerOptions { ReasoningParser = ReasoningFormat.DeepSeekR1 }))
        {
            var (status, body, _) = await t.PostJsonAsync("/v1/chat/completions", Body);
            Assert.Equal(200, status);
            var message = body.GetProperty("choices")[0].GetProperty("message");
            var (reasoning, content) = Run(ReasoningFormat.DeepSeekR1, [plain]);
            Assert.Equal(reasoning, message.GetProperty("reasoning_content").GetString());
            Assert.Equal(content.Length == 0 ? JsonValueKind.Null : JsonValueKind.String, message.GetProperty("content").ValueKind);

            var stream = await Sse.ReadAllAsync(await t.PostAsync("/v1/chat/completions", Body.Replace("\"temperature\":0", "\"temperature\":0,\"stream\":true")));
            var streamedReasoning = new StringBuilder();
            var streamedContent = new StringBuilder();
            foreach (var chunk in stream.Chunks)
            {
                foreach (var choice in chunk.GetProperty("choices").EnumerateArray())
                {
                    var delta = choice.GetProperty("delta");
                    if (delta.TryGetProperty("reasoning_content", out var r))
                    {
                        streamedReasoning.Append(r.GetString());
                    }
                    if (delta.TryGetProperty("content", out var c))
                    {
                        streamedContent.Append(c.GetString());
                    }
                }
            }
            Assert.Equal(reasoning, streamedReasoning.ToString());
            Assert.Equal(content, streamedContent.ToString());
        }
    }
}
