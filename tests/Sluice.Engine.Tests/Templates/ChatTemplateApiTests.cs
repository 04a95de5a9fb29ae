using System.Text.Json;
using System.Text.Json.Nodes;
using Sluice.Engine.Templates;

namespace Sluice.Engine.Tests.Templates;

/// <summary>What templates see of a <see cref="ChatTemplateContext"/>, and the default ChatML template.</summary>
public sealed class ChatTemplateApiTests
{
    private static string Render(string template, ChatTemplateContext context) => ChatTemplate.Parse(template).Render(context);

    private static ChatTemplateContext Context(params ChatMessage[] messages) => new() { Messages = messages };

    [Fact]
    public void A_message_is_a_dict_with_only_the_keys_that_are_set()
    {
        Assert.Equal("{\"role\": \"user\", \"content\": \"hi\"}", Render("{{ messages[0] | tojson }}", Context(new ChatMessage("user", "hi"))));
        Assert.Equal("None False", Render("{{ messages[0].content }} {{ 'tool_calls' in messages[0] }}", Context(new ChatMessage("assistant", null))));
    }

    [Fact]
    public void Tool_calls_and_tool_results_carry_ids_names_and_parsed_arguments()
    {
        var call = new ChatMessage("assistant", null) { ToolCalls = [new ChatToolCall("call_1", "lookup", "{\"q\": \"x\", \"n\": 2}")] };
        var result = new ChatMessage("tool", "42") { ToolCallId = "call_1", Name = "lookup" };
        Assert.Equal(
            "[{\"id\": \"call_1\", \"type\": \"function\", \"function\": {\"name\": \"lookup\", \"arguments\": {\"q\": \"x\", \"n\": 2}}}] call_1 lookup",
            Render("{{ messages[0].tool_calls | tojson }} {{ messages[1].tool_call_id }} {{ messages[1].name }}", Context(call, result)));
    }

    [Fact]
    public void Tool_call_arguments_that_are_not_a_json_object_stay_text()
    {
        var call = new ChatMessage("assistant", null) { ToolCalls = [new ChatToolCall(null, "f", "not json")] };
        Assert.Equal("True not json False", Render(
            "{% set c = messages[0].tool_calls[0] %}{{ c.function.arguments is string }} {{ c.function.arguments }} {{ c.id is defined }}",
            Context(call)));
    }

    [Fact]
    public void Content_parts_are_a_list_of_dicts()
    {
        var message = new ChatMessage("user", null) { ContentParts = [ChatContentPart.FromText("a"), new ChatContentPart("image_url") { Extra = new Dictionary<string, object?> { ["image_url"] = new Dictionary<string, object?> { ["url"] = "u" } } }] };
        Assert.Equal(
            "[{'type': 'text', 'text': 'a'}, {'type': 'image_url', 'image_url': {'url': 'u'}}]",
            Render("{{ messages[0].content }}", Context(message)));
    }

    [Fact]
    public void Reasoning_content_and_extra_message_keys_are_visible()
    {
        var message = new ChatMessage("assistant", "4") { ReasoningContent = "2+2", Extra = new Dictionary<string, object?> { ["weight"] = 0 } };
        Assert.Equal("2+2 0", Render("{{ messages[0].reasoning_content }} {{ messages[0].weight }}", Context(message)));
    }

    [Fact]
    public void Tools_and_documents_are_none_unless_given_as_json()
    {
        Assert.Equal("True True", Render("{{ tools is none }} {{ documents is none }}", Context()));
        var context = Context() with { ToolsJson = "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {}}}]", DocumentsJson = "[{\"title\": \"t\"}]" };
        Assert.Equal("f t", Render("{{ tools[0].function.name }} {{ documents[0].title }}", context));
        var invalid = Context() with { ToolsJson = "[not json" };
        Assert.Equal(TemplateErrorKind.Runtime, Assert.Throws<TemplateException>(() => Render("{{ tools }}", invalid)).Kind);
    }

    [Fact]
    public void Special_tokens_are_undefined_unless_given()
    {
        Assert.Equal("False|", Render("{{ bos_token is defined }}|{{ eos_token }}", Context()));
        Assert.Equal("<s></s>", Render("{{ bos_token }}{{ eos_token }}", Context() with { BosToken = "<s>", EosToken = "</s>" }));
    }

    [Fact]
    public void Extra_variables_convert_from_dotnet_and_json_values()
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
    public void Default_template_is_chatml()
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
    public void One_parsed_template_renders_from_many_threads_at_once()
    {
        var template = ChatTemplate.Parse(File.ReadAllText(Path.Combine(TemplateTestSupport.DataDirectory, "qwen3.jinja")));
        var context = Context(new ChatMessage("user", "hi"), new ChatMessage("assistant", "<think>x</think>yo"), new ChatMessage("user", "again"));
        var expected = template.Render(context);
        var results = new string[64];
        Parallel.For(0, results.Length, i => results[i] = template.Render(context));
        Assert.All(results, r => Assert.Equal(expected, r));
    }

    [Fact]
    public void Parse_reports_syntax_errors_with_their_position()
    {
        var error = Assert.Throws<TemplateException>(() => ChatTemplate.Parse("{% for m in messages %}\n{{ m.content }"));
        Assert.Equal(TemplateErrorKind.Syntax, error.Kind);
        Assert.Equal(2, error.Line);
    }
}
