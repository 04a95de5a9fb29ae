using System.Text.Json;
using System.Text.Json.Nodes;
using Sluice.Engine.Templates;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Templates;

/// <summary>What templates see of a <see cref="ChatTemplateContext"/>, and the default ChatML template.</summary>
public sealed class ChatTemplateApiTests
{
    private static string Render(string template, ChatTemplateContext context) => ChatTemplate.Parse(template).Render(context);

    private static ChatTemplateContext Context(params ChatMessage[] messages) => new() { Messages = messages };

    [Fact]
    public void Render_Message_IsADictWithOnlyTheKeysThatAreSet()
    {
        Assert.Equal("{\"role\": \"user\", \"content\": \"hi\"}", Render("{{ messages[0] | tojson }}", Context(new ChatMessage("user", "hi"))));
        Assert.Equal("None False", Render("{{ messages[0].content }} {{ 'tool_calls' in messages[0] }}", Context(new ChatMessage("assistant", null))));
    }

    [Fact]
    public void Render_ToolCallsAndToolResults_CarryIdsNamesAndParsedArguments()
    {
        var call = new ChatMessage("assistant", null) { ToolCalls = [new ChatToolCall("call_1", "lookup", "{\"q\": \"x\", \"n\": 2}")] };
        var result = new ChatMessage("tool", "42") { ToolCallId = "call_1", Name = "lookup" };
        Assert.Equal(
            "[{\"id\": \"call_1\", \"type\": \"function\", \"function\": {\"name\": \"lookup\", \"arguments\": {\"q\": \"x\", \"n\": 2}}}] call_1 lookup",
            Render("{{ messages[0].tool_calls | tojson }} {{ messages[1].tool_call_id }} {{ messages[1].name }}", Context(call, result)));
    }

    [Fact]
    public void Render_ToolCallArgumentsNotAJsonObject_StayText()
    {
        var call = new ChatMessage("assistant", null) { ToolCalls = [new ChatToolCall(null, "f", "not json")] };
        Assert.Equal("True not json False", Render(
            "{% set c = messages[0].tool_calls[0] %}{{ c.function.arguments is string }} {{ c.function.arguments }} {{ c.id is defined }}",
            Context(call)));
    }

    [Fact]
    public void Render_ContentParts_AreAListOfDicts()
    {
        var message = new ChatMessage("user", null) { ContentParts = [ChatContentPart.FromText("a"), new ChatContentPart("image_url") { Extra = new Dictionary<string, object?> { ["image_url"] = new Dictionary<string, object?> { ["url"] = "u" } } }] };
        Assert.Equal(
            "[{'type': 'text', 'text': 'a'}, {'type': 'image_url', 'image_url': {'url': 'u'}}]",
            Render("{{ messages[0].content }}", Context(message)));
    }

    [Fact]
    public void Render_ReasoningContentAndExtraMessageKeys_AreVisible()
    {
        var message = new ChatMessage("assistant", "4") { ReasoningContent = "2+2", Extra = new Dictionary<string, object?> { ["weight"] = 0 } };
        Assert.Equal("2+2 0", Render("{{ messages[0].reasoning_content }} {{ messages[0].weight }}", Context(message)));
    }

    [Fact]
    public void Render_ToolsAndDocuments_AreNoneUnlessGivenAsJson()
    {
        Assert.Equal("True True", Render("{{ tools is none }} {{ documents is none }}", Context()));
        var context = Context() with { ToolsJson = "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {}}}]", DocumentsJson = "[{\"title\": \"t\"}]" };
        Assert.Equal("f t", Render("{{ tools[0].function.name }} {{ documents[0].title }}", context));
        var invalid = Context() with { ToolsJson = "[not json" };
        Assert.Equal(TemplateErrorKind.Runtime, Assert.Throws<TemplateException>(() => Render("{{ tools }}", invalid)).Kind);
    }

    [Fact]
    public void Render_SpecialTokens_AreUndefinedUnlessGiven()
    {
        Assert.Equal("False|", Render("{{ bos_token is defined }}|{{ eos_token }}", Context()));
        Assert.Equal("<s></s>", Render("{{ bos_token }}{{ eos_token }}", Context() with { BosToken = "<s>", EosToken = "</s>" }));
    }

    [Fact]
    public void Render_ExtraVariables_ConvertFromDotnetAndJsonValues()
    {
        using var json = JsonDocument.Parse("{\"k\": [1, 2.5, true, null]}");
        var context = Context() with
        {
            AddGenerationPrompt = true,
            Extra = new Dictionary<string, object?>
            {
                ["enable_thinking"] = false,
                ["n"] = 3,
                ["ratio"] = 0.5f,
                ["names"] = new[] { "a", "b" },
                ["element"] = json.RootElement.Clone(),
                ["node"] = JsonNode.Parse("{\"x\": 1}"),
                ["nothing"] = null,
            },
        };
        Assert.Equal(
            "True False 3 0.5 ['a', 'b'] {'k': [1, 2.5, True, None]} 1 None",
            Render("{{ add_generation_prompt }} {{ enable_thinking }} {{ n }} {{ ratio }} {{ names }} {{ element }} {{ node.x }} {{ nothing }}", context));
    }

    [Fact]
    public void Render_DefaultTemplate_IsChatMl()
    {
        var context = Context(
            new ChatMessage("system", "Be brief."),
            new ChatMessage("user", null) { ContentParts = [ChatContentPart.FromText("Hi"), new ChatContentPart("image"), ChatContentPart.FromText("!")] },
            new ChatMessage("assistant", "Hello.")) with
        { AddGenerationPrompt = true };
        Assert.Equal(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>assistant\n",
            ChatTemplates.Default.Render(context));
    }

    [Fact]
    public void DefaultSource_IsTheGoldenGenericTemplate_CheckedAgainstPythonJinja2()
    {
        // Data/sluice-generic.jinja is rendered by Python Jinja2 into goldens.json with every scenario, tools included
        Assert.Equal(ChatTemplates.DefaultSource, File.ReadAllText(Path.Combine(TemplateTestSupport.DataDirectory, "sluice-generic.jinja")));
    }

    [Fact]
    public void Render_OneParsedTemplateOnManyThreadsAtOnce_GivesTheSameText()
    {
        var template = ChatTemplate.Parse(File.ReadAllText(Path.Combine(TemplateTestSupport.DataDirectory, "qwen3.jinja")));
        var context = Context(new ChatMessage("user", "hi"), new ChatMessage("assistant", "<think>x</think>yo"), new ChatMessage("user", "again"));
        var expected = template.Render(context);
        var results = new string[64];
        Parallel.For(0, results.Length, i => results[i] = template.Render(context));
        Assert.All(results, r => Assert.Equal(expected, r));
    }

    [Fact]
    public void Parse_SyntaxError_IsReportedWithItsPosition()
    {
        var error = Assert.Throws<TemplateException>(() => ChatTemplate.Parse("{% for m in messages %}\n{{ m.content }"));
        Assert.Equal(TemplateErrorKind.Syntax, error.Kind);
        Assert.Equal(2, error.Line);
    }
}
