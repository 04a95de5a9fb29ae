using System.Text.Json;
using System.Text.Json.Nodes;
using Sluice.Hosting.Errors;
using Sluice.OpenAi;

namespace Sluice.Server.Requests;

/// <summary>
/// A Responses API body to the chat request it amounts to: <c>instructions</c> a system message, <c>input</c> the
/// messages (a string is one user message; function_call items become an assistant's tool_calls, function_call_output
/// items tool messages), function tools and tool_choice in chat's shape, <c>text.format</c> a response_format. What
/// needs state (previous_response_id, conversation, background) or is not served is refused by name.
/// </summary>
internal static class ResponsesReader
{
    public static ChatCompletionRequestBody ToChat(ResponsesRequestBody body)
    {
        Refuse(body.PreviousResponseId is not null, "previous_response_id", "this server is stateless: send the whole conversation in 'input'");
        Refuse(Given(body.Conversation), "conversation", "this server is stateless: send the whole conversation in 'input'");
        Refuse(body.Background == true, "background", "background responses are not supported");
        Refuse(body.Include is { ValueKind: JsonValueKind.Array } inc && inc.GetArrayLength() > 0, "include", "no extra output can be included");
        Refuse(Given(body.Reasoning), "reasoning", "reasoning options are not supported");
        Refuse(Given(body.Prompt), "prompt", "stored prompts are not supported");
        Refuse(body.Truncation is not null and not "disabled", "truncation", "only \"disabled\" is supported");
        Refuse(body.MaxToolCalls is not null, "max_tool_calls", "it is not supported");
        Refuse(body.TopLogprobs is not null, "top_logprobs", "it is not supported on /v1/responses");
        var messages = new List<ChatMessageBody>();
        if (body.Instructions is { } instructions)
        {
            messages.Add(new ChatMessageBody { Role = "system", Content = Str(instructions) });
        }
        ReadInput(body.Input, messages);
        return new ChatCompletionRequestBody
        {
            Model = body.Model,
            Messages = messages,
            Tools = body.Tools is { ValueKind: JsonValueKind.Array } tools ? ChatTools(tools) : null,
            ToolChoice = body.ToolChoice is { ValueKind: JsonValueKind.Object } choice ? ChatToolChoice(choice) : body.ToolChoice,
            ParallelToolCalls = body.ParallelToolCalls,
            ResponseFormat = body.Text is { ValueKind: JsonValueKind.Object } text && text.TryGetProperty("format", out var format) ? ResponseFormat(format) : null,
            MaxCompletionTokens = body.MaxOutputTokens,
            Temperature = body.Temperature,
            TopP = body.TopP,
            Seed = body.Seed,
            Stream = body.Stream,
        };
    }

    private static void ReadInput(JsonElement? input, List<ChatMessageBody> messages)
    {
        switch (input?.ValueKind)
        {
            case JsonValueKind.String:
                messages.Add(new ChatMessageBody { Role = "user", Content = input });
                return;
            case JsonValueKind.Array:
                break;
            default:
                throw ApiException.BadRequest("'input' must be a string or an array of input items.", "input");
        }
        int i = 0;
        foreach (var item in input.Value.EnumerateArray())
        {
            string where = $"input[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.BadRequest($"'{where}' must be an object.", where);
            }
            string type = item.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "message";
            switch (type)
            {
                case "message":
                    messages.Add(new ChatMessageBody
                    {
                        Role = item.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String ? role.GetString() : null,
                        Content = item.TryGetProperty("content", out var content) ? MessageContent(content, where) : null,
                    });
                    break;
                case "function_call":
                    var call = new ToolCallBody
                    {
                        Id = String(item, "call_id", where),
                        Type = "function",
                        Function = new FunctionCallBody { Name = String(item, "name", where), Arguments = String(item, "arguments", where) },
                    };
                    // consecutive calls are one assistant turn, as chat writes parallel calls
                    if (messages.Count > 0 && messages[^1] is { Role: "assistant", ToolCalls: { } calls } && messages[^1].Content is null)
                    {
                        calls.Add(call);
                    }
                    else
                    {
                        messages.Add(new ChatMessageBody { Role = "assistant", ToolCalls = [call] });
                    }
                    break;
                case "function_call_output":
                    messages.Add(new ChatMessageBody
                    {
                        Role = "tool",
                        ToolCallId = String(item, "call_id", where),
                        Content = item.TryGetProperty("output", out var output) && output.ValueKind == JsonValueKind.String
                            ? output
                            : throw ApiException.BadRequest($"'{where}.output' must be a string.", where + ".output"),
                    });
                    break;
                default:
                    throw ApiException.BadRequest($"'{where}' has type '{type}': this server takes message, function_call and function_call_output items.", where);
            }
        }
    }

    /// <summary>A message's content: a string, or parts of type input_text / output_text (text only).</summary>
    private static JsonElement MessageContent(JsonElement content, string where)
    {
        if (content.ValueKind != JsonValueKind.Array)
        {
            return content;
        }
        var parts = new JsonArray();
        int j = 0;
        foreach (var part in content.EnumerateArray())
        {
            string at = $"{where}.content[{j++}]";
            string? type = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var pt) ? pt.GetString() : null;
            if (type is not ("input_text" or "output_text" or "text") || !part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
            {
                throw ApiException.BadRequest($"'{at}' must be an input_text or output_text part: this server's models take text only.", at);
            }
            parts.Add(new JsonObject { ["type"] = "text", ["text"] = text.GetString() });
        }
        return Element(parts);
    }

    /// <summary>Responses' flat function tools to chat's nested ones; other tool types are refused.</summary>
    private static JsonElement ChatTools(JsonElement tools)
    {
        var list = new JsonArray();
        int i = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            string where = $"tools[{i++}]";
            if (tool.ValueKind != JsonValueKind.Object || !tool.TryGetProperty("type", out var type) || type.GetString() != "function")
            {
                throw ApiException.BadRequest($"'{where}' must be a function tool: this server has no built-in tools.", "tools");
            }
            var function = new JsonObject();
            foreach (var p in tool.EnumerateObject().Where(p => p.Name is "name" or "description" or "parameters" or "strict"))
            {
                function[p.Name] = JsonNode.Parse(p.Value.GetRawText());
            }
            list.Add(new JsonObject { ["type"] = "function", ["function"] = function });
        }
        return Element(list);
    }

    private static JsonElement ChatToolChoice(JsonElement choice)
    {
        if (choice.TryGetProperty("type", out var type) && type.GetString() == "function" && choice.TryGetProperty("name", out var name))
        {
            return Element(new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = name.GetString() } });
        }
        throw ApiException.BadRequest("'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"name\": ...}.", "tool_choice");
    }

    private static JsonElement? ResponseFormat(JsonElement format)
    {
        string? type = format.ValueKind == JsonValueKind.Object && format.TryGetProperty("type", out var t) ? t.GetString() : null;
        switch (type)
        {
            case "text":
                return null;
            case "json_object":
                return Element(new JsonObject { ["type"] = "json_object" });
            case "json_schema":
                var schema = new JsonObject();
                foreach (var p in format.EnumerateObject().Where(p => p.Name is "name" or "schema" or "strict" or "description"))
                {
                    schema[p.Name] = JsonNode.Parse(p.Value.GetRawText());
                }
                return Element(new JsonObject { ["type"] = "json_schema", ["json_schema"] = schema });
            default:
                throw ApiException.BadRequest("'text.format.type' must be text, json_object or json_schema.", "text.format");
        }
    }

    private static string? String(JsonElement item, string name, string where) =>
        item.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()
            : throw ApiException.BadRequest($"'{where}.{name}' must be a string.", $"{where}.{name}");

    private static JsonElement Str(string s) => Element(JsonValue.Create(s));

    private static JsonElement Element(JsonNode node) => JsonDocument.Parse(node.ToJsonString()).RootElement;

    private static bool Given(JsonElement? e) => e is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) };

    private static void Refuse(bool given, string field, string why)
    {
        if (given)
        {
            throw ApiException.BadRequest($"'{field}' is not supported: {why}.", field);
        }
    }
}
