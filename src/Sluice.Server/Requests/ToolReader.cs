using System.Text.Json;
using System.Text.RegularExpressions;
using Sluice.Engine.Sampling.Grammars;
using Sluice.Hosting.Errors;
using Sluice.OpenAi;

namespace Sluice.Server.Requests;

/// <summary>
/// A chat request's <c>tools</c> and <c>tool_choice</c>. With <c>required</c> or a named function the answer is a
/// call, decoded under a grammar: compact <c>{"name":"f","arguments":{...}}</c> naming an offered function with
/// arguments valid against its <c>parameters</c> schema (a schema keyword not supported is a 400 naming it), which the
/// chat routes hand back as <c>tool_calls</c>. <c>none</c> leaves the tools out of the prompt. <c>auto</c>, which would
/// need each model family's call syntax parsed from free text, is refused by name rather than its calls ignored.
/// </summary>
internal static partial class ToolReader
{
    public static ToolPlan? Read(ChatCompletionRequestBody body, ResolvedRequest r)
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
        if (mode == "auto")
        {
            // named after the field the client sent: tools alone mean auto
            throw ApiException.BadRequest("tool_choice \"auto\" (the default with tools) is not supported by this server yet (it does not parse calls from free text); use \"required\", a named function, or \"none\".",
                choice is null ? "tools" : "tool_choice");
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
        if (body.ResponseFormat is { ValueKind: JsonValueKind.Object } || body.GuidedJson is not null || body.GuidedChoice is not null || body.GuidedRegex is not null)
        {
            throw ApiException.BadRequest("A forced tool call and a structured-output constraint cannot both hold: give one.", "tool_choice");
        }
        var key = "tools:" + string.Join('\0', functions.Select(fn => fn.Name + "\0" + fn.Parameters.GetRawText()));
        try
        {
            return new ToolPlan(r.Grammars.Get(key, TokenTrie.For(r.Loaded.Tokenizer), () => JsonSchemaCompiler.Compile(CallSchema(functions))));
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

/// <summary>A forced tool call: the grammar the answer is decoded under; the answer is one call.</summary>
internal sealed record ToolPlan(GrammarMatcher Grammar)
{
    /// <summary>
    /// The name and the arguments (compact JSON) of a call generated whole under <see cref="Grammar"/>, or null for
    /// one cut short (by max_tokens).
    /// </summary>
    public static (string Name, string Arguments)? Parse(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            return (root.GetProperty("name").GetString()!, root.GetProperty("arguments").GetRawText());
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
