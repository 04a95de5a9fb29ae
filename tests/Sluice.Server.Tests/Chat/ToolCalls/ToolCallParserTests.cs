using System.Text;
using System.Text.Json;
using Sluice.Server.Chat.ToolCalls;

namespace Sluice.Server.Tests.Chat.ToolCalls;

/// <summary>
/// Model outputs of each family, as the models write them, split into content and tool calls; and the same outputs
/// pushed in every split, which must reassemble into the answer of the whole text.
/// </summary>
public sealed class ToolCallParserTests
{
    private static readonly HashSet<string> Offered = ["get_weather", "get_time"];

    private sealed record Parsed(string Content, List<(string Id, string Name, string Arguments)> Calls);

    private static Parsed Run(ToolCallFormat format, IEnumerable<string> pieces, bool parallel = true)
    {
        var parser = new ToolCallParser(format, Offered, parallel, k => $"id{k}");
        var content = new StringBuilder();
        var calls = new List<(string Id, string Name, StringBuilder Arguments)>();
        var list = pieces.ToList();
        for (int p = 0; p < list.Count; p++)
        {
            var piece = parser.Push(list[p], final: p == list.Count - 1);
            content.Append(piece.Content);
            foreach (var d in piece.Calls)
            {
                if (d.Id is not null)
                {
                    Assert.Equal(calls.Count, d.Index);
                    Assert.Equal("function", d.Type);
                    Assert.Equal("", d.Function.Arguments);
                    calls.Add((d.Id, d.Function.Name!, new StringBuilder()));
                }
                else
                {
                    Assert.Null(d.Function.Name); // the name is sent once
                    calls[d.Index].Arguments.Append(d.Function.Arguments);
                }
            }
        }
        Assert.Equal(calls.Count, parser.Calls);
        return new Parsed(content.ToString(), [.. calls.Select(c => (c.Id, c.Name, c.Arguments.ToString()))]);
    }

    private static Parsed Whole(ToolCallFormat format, string text, bool parallel = true) => Run(format, [text], parallel);

    public static TheoryData<string, string, string, string[]> FamilyOutputs() => new()
    {
        // Qwen 2.5 / Qwen 3 / Hermes / the generic template
        { "hermes", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", "", ["get_weather", "{\"city\": \"Paris\"}"] },
        { "hermes", "Let me check.\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": [1, 2]}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>",
            "Let me check.", ["get_weather", "{\"city\": \"Paris\", \"days\": [1, 2]}", "get_time", "{}"] },
        { "hermes", "<tool_call>\n{\"arguments\": {\"city\": \"O\\\"slo}\"}, \"name\": \"get_weather\"}\n</tool_call>", "", ["get_weather", "{\"city\": \"O\\\"slo}\"}"] },
        // Mistral: [TOOL_CALLS] is a control token, so the text starts with the array
        { "mistral", "[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, {\"name\": \"get_time\", \"arguments\": {\"tz\": \"CET\"}}]", "",
            ["get_weather", "{\"city\": \"Paris\"}", "get_time", "{\"tz\": \"CET\"}"] },
        { "mistral", "[TOOL_CALLS][{\"name\": \"get_time\", \"arguments\": {}, \"id\": \"a1b2c3d4e\"}]", "", ["get_time", "{}"] },
        // newer Mistral (v11 tokenizer): name[ARGS]{...}, each call after its own [TOOL_CALLS]; without them when unrendered
        { "mistral", "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}", "", ["get_weather", "{\"city\": \"Paris\"}"] },
        { "mistral", "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time[ARGS]{}", "",
            ["get_weather", "{\"city\": \"Paris\"}", "get_time", "{}"] },
        { "mistral", "get_time[ARGS]{\"tz\": \"CET\"}", "", ["get_time", "{\"tz\": \"CET\"}"] },
        { "mistral", "Sure.[TOOL_CALLS]get_time[ARGS]{}", "Sure.", ["get_time", "{}"] },
        { "mistral", "get a coat", "get a coat", [] },
        { "mistral", "get_time is noon", "get_time is noon", [] },
        { "mistral", "[TOOL_CALLS]rm_rf[ARGS]{}", "[TOOL_CALLS]rm_rf[ARGS]{}", [] },
        // Llama 3.1-3.3: parameters, <|python_tag|> unrendered, several calls split by ;
        { "llama3", "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", "", ["get_weather", "{\"city\": \"Paris\"}"] },
        { "llama3", "<|python_tag|>{\"type\": \"function\", \"name\": \"get_time\", \"parameters\": {}}; {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}", "",
            ["get_time", "{}", "get_weather", "{\"city\": \"Rome\"}"] },
        // Granite 3.x
        { "granite", "<|tool_call|>[{\"arguments\": {\"city\": \"Paris\"}, \"name\": \"get_weather\"}]", "", ["get_weather", "{\"city\": \"Paris\"}"] },
        // arguments as a string holding the JSON
        { "hermes", "<tool_call>{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}</tool_call>", "", ["get_weather", "{\"city\": \"Paris\"}"] },
        // no call: plain text, JSON that is not a call, an unknown function, text mentioning the opener's start
        { "hermes", "The weather is fine. <tool", "The weather is fine. <tool", [] },
        { "hermes", "{\"answer\": 42}", "{\"answer\": 42}", [] },
        { "mistral", "[1, 2, 3]", "[1, 2, 3]", [] },
        { "hermes", "<tool_call>\n{\"name\": \"rm_rf\", \"arguments\": {}}\n</tool_call>", "<tool_call>\n{\"name\": \"rm_rf\", \"arguments\": {}}\n</tool_call>", [] },
        { "llama3", "  Sure: {\"name\": \"get_time\"}", "  Sure: {\"name\": \"get_time\"}", [] },
    };

    private static ToolCallFormat Format(string family) => family switch
    {
        "hermes" => ToolCallFormat.Hermes,
        "mistral" => ToolCallFormat.Mistral,
        "llama3" => ToolCallFormat.Llama3,
        _ => ToolCallFormat.Granite,
    };

    [Theory]
    [MemberData(nameof(FamilyOutputs))]
    public void Push_FamilyOutputWhole_GivesContentAndCalls(string family, string output, string content, string[] calls)
    {
        var parsed = Whole(Format(family), output);
        Assert.Equal(content, parsed.Content);
        Assert.Equal(calls, parsed.Calls.SelectMany(c => new[] { c.Name, c.Arguments }));
        Assert.Equal(parsed.Calls.Select((_, k) => $"id{k}"), parsed.Calls.Select(c => c.Id));
        foreach (var c in parsed.Calls)
        {
            using var _ = JsonDocument.Parse(c.Arguments);
        }
    }

    [Theory]
    [MemberData(nameof(FamilyOutputs))]
    public void Push_FamilyOutputInEverySplit_ReassemblesIntoTheWholeAnswer(string family, string output, string content, string[] calls)
    {
        _ = (content, calls);
        var whole = Whole(Format(family), output);
        for (int a = 0; a <= output.Length; a++)
        {
            var twoPieces = Run(Format(family), [output[..a], output[a..]]);
            Assert.Equal(whole, twoPieces, ParsedEquals);
        }
        var characters = Run(Format(family), output.Select(c => c.ToString()).Append(""));
        Assert.Equal(whole, characters, ParsedEquals);
    }

    private static bool ParsedEquals(Parsed x, Parsed y) => x.Content == y.Content && x.Calls.SequenceEqual(y.Calls);

    [Fact]
    public void Push_ArgumentsArriving_AreSentInPiecesBeforeTheCallEnds()
    {
        var parser = new ToolCallParser(ToolCallFormat.Hermes, Offered, true, k => "id");
        Assert.Empty(parser.Push("<tool_call>\n{\"name\": \"get_wea", false).Calls);
        var header = Assert.Single(parser.Push("ther\", \"arguments\": ", false).Calls);
        Assert.Equal("get_weather", header.Function.Name);
        var piece = Assert.Single(parser.Push("{\"city\": \"Pa", false).Calls);
        Assert.Equal("{\"city\": \"Pa", piece.Function.Arguments);
        Assert.Equal("ris\"}", Assert.Single(parser.Push("ris\"}}\n</tool_call>", true).Calls).Function.Arguments);
    }

    [Fact]
    public void Push_ContentBeforeAnOpener_IsSentBeforeTheCallWithoutTrailingWhitespace()
    {
        var parser = new ToolCallParser(ToolCallFormat.Hermes, Offered, true, k => "id");
        Assert.Equal("Checking", parser.Push("Checking \n", false).Content.ToString());
        Assert.Equal("", parser.Push("<tool_", false).Content.ToString());
        Assert.Equal("", parser.Push("call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>", true).Content.ToString());
        Assert.Equal(1, parser.Calls);
    }

    [Fact]
    public void Push_ParallelToolCallsFalse_KeepsOnlyTheFirstCall()
    {
        var parsed = Whole(ToolCallFormat.Mistral, "[{\"name\": \"get_time\", \"arguments\": {}}, {\"name\": \"get_weather\", \"arguments\": {}}]", parallel: false);
        Assert.Equal("get_time", Assert.Single(parsed.Calls).Name);
    }

    [Fact]
    public void Push_CallCutShort_KeepsTheCallWithTheArgumentsSoFar()
    {
        var parsed = Whole(ToolCallFormat.Hermes, "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Pa");
        Assert.Equal(("id0", "get_weather", "{\"city\": \"Pa"), Assert.Single(parsed.Calls));
    }

    [Theory]
    [InlineData("{%- if tools %}<tool_call>{% endif %}", "hermes")]
    [InlineData("[AVAILABLE_TOOLS] [TOOL_CALLS]", "mistral")]
    [InlineData("<|start_header_id|>ipython<|end_header_id|> <|python_tag|>", "llama3")]
    [InlineData("<|start_of_role|>tools<|end_of_role|> <|tool_call|>", "granite")]
    [InlineData(null, "hermes")]
    public void Of_TemplateSource_RecognizesTheFamily(string? source, string family) =>
        Assert.Equal(family, ToolCallFormat.Of(source).Family);

    [Fact]
    public void Ids_MistralFamily_AreNineAlphanumerics()
    {
        string id = ToolCallIds.Of(ToolCallFormat.Mistral, "req-1", 0, 2);
        Assert.Matches("^[A-Za-z0-9]{9}$", id);
        Assert.NotEqual(id, ToolCallIds.Of(ToolCallFormat.Mistral, "req-1", 0, 1));
        Assert.Equal("call_req-1_0_2", ToolCallIds.Of(ToolCallFormat.Hermes, "req-1", 0, 2));
    }
}
