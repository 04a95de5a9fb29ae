using System.Text.Json;
using System.Text.RegularExpressions;
using Sluice.Engine.Sampling.Grammars;
using Sluice.Hosting.Errors;
using Sluice.OpenAi;
using Sluice.Server.Chat;
using Sluice.Server.Chat.ToolCalls;

namespace Sluice.Server.Requests;

/// <summary>
/// A chat request's <c>tools</c> and <c>tool_choice</c>. With <c>required</c> or a named function the answer is a
/// call, decoded under a grammar: compact <c>{"name":"f","arguments":{...}}</c> naming an offered function with
/// arguments valid against its <c>parameters</c> schema (a schema keyword not supported is a 400 naming it), which the
/// chat routes hand back as <c>tool_calls</c>. With <c>auto</c> (the default with tools) the model writes freely and its
/// calls are parsed from the text in its family's syntax (<see cref="ToolCallFormat"/>); a model whose chat template does
/// not render tools cannot be offered them that way, and is refused by name. <c>none</c> leaves the tools out of the prompt.
/// </summary>
internal static partial class ToolReader
{
    public static ToolPlan? Read(ChatCompletionRequestBody body, ResolvedRequest r, ChatPromptBuilder chat)
    {
        var choice = body.ToolChoice;
        if (body.Tools is { ValueKind: not (JsonValueKind.Array or JsonValueKind.Null or JsonValueKind.Undefined) })
        {
            throw ApiException.BadRequest("'tools' must be an array of function tools.", "tools");
        }
        bool hasTools = body.Tools is { ValueKind: JsonValueKind.Array } t && t.GetArrayLength() > 0;
        string? mode = choice?.ValueKind switch
        {
            null or JsonValueKind.Null or JsonValueKind.Undefined => hasTools ? "auto" : "none",
            JsonValueKind.String => choice.Value.GetString(),
            JsonValueKind.Object => "named",
            _ => throw ApiException.BadRequest("'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}.", "tool_choice"),
        };
        if (mode == "none")
        {
            return null;
        }
        if (!hasTools)
        {
            throw ApiException.BadRequest($"tool_choice '{mode}' needs 'tools'.", "tool_choice");
        }
        var functions = Functions(body.Tools!.Value);
        bool constrained = body.ResponseFormat is { ValueKind: JsonValueKind.Object } || body.GuidedJson is not null || body.GuidedChoice is not null || body.GuidedRegex is not null;
        if (mode == "auto")
        {
            // named after the field the client sent: tools alone mean auto
            string field = choice is null ? "tools" : "tool_choice";
            if (!chat.RendersTools)
            {
                throw ApiException.BadRequest("The model's chat template does not render tools, so the model cannot be offered them with tool_choice \"auto\"; use \"required\", a named function, or \"none\".", field);
            }
            if (constrained)
            {
                throw ApiException.BadRequest("tool_choice \"auto\" and a structured-output constraint cannot both hold: the constraint would keep the model from writing a call.", field);
            }
            return new ToolPlan(null, chat.ToolFormat, functions.Select(f => f.Name).ToHashSet(StringComparer.Ordinal), body.ParallelToolCalls ?? true);
        }
        if (mode == "named")
        {
            string? name = choice!.Value.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object
                && f.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            functions = [.. functions.Where(fn => fn.Name == name)];
            if (functions.Count == 0)
            {
                throw ApiException.BadRequest($"tool_choice names function '{name}', which is not in 'tools'.", "tool_choice");
            }
        }
        else if (mode != "required")
        {
            throw ApiException.BadRequest($"tool_choice '{mode}' is not one of none, auto, required.", "tool_choice");
        }
        if (constrained)
        {
            throw ApiException.BadRequest("A forced tool call and a structured-output constraint cannot both hold: give one.", "tool_choice");
        }
        var key = "tools:" + string.Join('\0', functions.Select(fn => fn.Name + "\0" + fn.Parameters.GetRawText()));
        try
        {
            var grammar = r.Grammars.Get(key, TokenTrie.For(r.Loaded.Tokenizer), () => JsonSchemaCompiler.Compile(CallSchema(functions)));
            return new ToolPlan(grammar, chat.ToolFormat, functions.Select(f => f.Name).ToHashSet(StringComparer.Ordinal), Parallel: false);
        }
        catch (Exception ex) when (ex is GrammarException or InvalidOperationException)
        {
            throw ApiException.BadRequest($"tools: {ex.Message}.", "tools");
        }
    }

    private sealed record Function(string Name, JsonElement Parameters);

    private static List<Function> Functions(JsonElement tools)
    {
        var list = new List<Function>();
        foreach (var tool in tools.EnumerateArray())
        {
            if (tool.ValueKind != JsonValueKind.Object || !tool.TryGetProperty("type", out var type) || type.GetString() != "function"
                || !tool.TryGetProperty("function", out var f) || f.ValueKind != JsonValueKind.Object
                || !f.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
            {
                throw ApiException.BadRequest("Each of 'tools' must be {\"type\": \"function\", \"function\": {\"name\": ..., \"parameters\": {...}}}.", "tools");
            }
            string n = name.GetString()!;
            if (!ValidName().IsMatch(n))
            {
                throw ApiException.BadRequest($"Function name '{n}' must be 1 to 64 letters, digits, underscores or dashes.", "tools");
            }
            var parameters = f.TryGetProperty("parameters", out var p) && p.ValueKind == JsonValueKind.Object
                ? p
                : JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement;
            list.Add(new Function(n, parameters));
        }
        return list;
    }

    /// <summary>The schema of one call: anyOf, per function, {"name": const, "arguments": its parameters}.</summary>
    private static string CallSchema(List<Function> functions)
    {
        var branches = functions.Select(f =>
            $$"""{"type":"object","properties":{"name":{"const":"{{f.Name}}"},"arguments":{{f.Parameters.GetRawText()}}},"required":["name","arguments"],"additionalProperties":false}""");
        return $$"""{"anyOf":[{{string.Join(',', branches)}}]}""";
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex ValidName();
}

/// <summary>
/// A request's tool calling: the grammar a forced call is decoded under (null with tool_choice auto), the model
/// family's call syntax, the functions offered, and whether more than one call may be made.
/// </summary>
internal sealed record ToolPlan(GrammarMatcher? Grammar, ToolCallFormat Format, IReadOnlySet<string> Names, bool Parallel)
{
    /// <summary>A parser for one choice's output; call ids name the request, the choice and the call.</summary>
    public ToolCallParser Parser(string requestId, int choice) => new(Format, Names, Parallel, k => ToolCallIds.Of(Format, requestId, choice, k));
}
