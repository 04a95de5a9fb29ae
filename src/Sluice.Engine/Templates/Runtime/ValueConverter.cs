using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sluice.Engine.Templates.Runtime;

/// <summary>Turns the .NET values a caller passes (strings, numbers, dictionaries, JSON) into template values.</summary>
internal static class ValueConverter
{
    private const int MaxDepth = 128;

    public static Value FromObject(object? value, int depth = 0)
    {
        if (depth > MaxDepth)
        {
            throw Errors.Limit($"a variable is nested deeper than {MaxDepth} levels");
        }

        switch (value)
        {
            case null:
                return NoneValue.Instance;
            case Value v:
                return v;
            case string s:
                return new StringValue(s);
            case char c:
                return new StringValue(c.ToString());
            case bool b:
                return BoolValue.Of(b);
            case sbyte or byte or short or ushort or int or uint or long:
                return IntValue.Of(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
            case ulong u:
                return u <= long.MaxValue ? IntValue.Of((long)u) : new FloatValue(u);
            case float or double or decimal:
                return new FloatValue(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture));
            case JsonElement element:
                return FromJson(element, depth);
            case JsonNode node:
                return FromJson(JsonSerializer.SerializeToElement(node), depth);
            case ChatMessage message:
                return FromMessage(message);
            case IDictionary<string, object?> dictionary:
                return FromPairs(dictionary, depth);
            case IReadOnlyDictionary<string, object?> dictionary:
                return FromPairs(dictionary, depth);
            case IDictionary dictionary:
                var dict = new DictValue();
                foreach (DictionaryEntry entry in dictionary)
                {
                    dict.Items[FromObject(entry.Key, depth + 1)] = FromObject(entry.Value, depth + 1);
                }

                return dict;
            case IEnumerable sequence:
                return new ListValue([.. sequence.Cast<object?>().Select(item => FromObject(item, depth + 1))]);
            default:
                throw Errors.Runtime($"values of type {value.GetType().Name} cannot be passed to a template");
        }
    }

    public static Value FromJson(JsonElement element, int depth = 0)
    {
        if (depth > MaxDepth)
        {
            throw Errors.Limit($"a variable is nested deeper than {MaxDepth} levels");
        }

        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var dict = new DictValue();
                foreach (var property in element.EnumerateObject())
                {
                    dict.Set(property.Name, FromJson(property.Value, depth + 1));
                }

                return dict;
            case JsonValueKind.Array:
                return new ListValue([.. element.EnumerateArray().Select(item => FromJson(item, depth + 1))]);
            case JsonValueKind.String:
                return new StringValue(element.GetString()!);
            case JsonValueKind.Number:
                // As Python's json.loads: "1" is an int, "1.0" and "1e3" are floats.
                return element.TryGetInt64(out var integer) ? IntValue.Of(integer) : new FloatValue(element.GetDouble());
            case JsonValueKind.True:
                return BoolValue.True;
            case JsonValueKind.False:
                return BoolValue.False;
            default:
                return NoneValue.Instance;
        }
    }

    /// <summary>Parses a JSON document the caller passed as text; null text is <c>None</c>.</summary>
    public static Value FromJsonText(string? json, string what)
    {
        if (json is null)
        {
            return NoneValue.Instance;
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            return FromJson(document.RootElement);
        }
        catch (JsonException e)
        {
            throw Errors.Runtime($"{what} is not valid JSON: {e.Message}");
        }
    }

    /// <summary>A message as HF passes it: only the keys that are set, so <c>'tool_calls' in message</c> works.</summary>
    public static DictValue FromMessage(ChatMessage message)
    {
        var dict = new DictValue();
        dict.Set("role", new StringValue(message.Role));
        dict.Set("content", message.ContentParts is { } parts
            ? new ListValue([.. parts.Select(FromPart)])
            : message.Content is null ? NoneValue.Instance : new StringValue(message.Content));
        if (message.Name is not null)
        {
            dict.Set("name", new StringValue(message.Name));
        }

        if (message.ToolCalls is not null)
        {
            dict.Set("tool_calls", new ListValue([.. message.ToolCalls.Select(FromToolCall)]));
        }

        if (message.ToolCallId is not null)
        {
            dict.Set("tool_call_id", new StringValue(message.ToolCallId));
        }

        if (message.ReasoningContent is not null)
        {
            dict.Set("reasoning_content", new StringValue(message.ReasoningContent));
        }

        AddExtra(dict, message.Extra);
        return dict;
    }

    private static Value FromPart(ChatContentPart part)
    {
        var dict = new DictValue();
        dict.Set("type", new StringValue(part.Type));
        if (part.Text is not null)
        {
            dict.Set("text", new StringValue(part.Text));
        }

        AddExtra(dict, part.Extra);
        return dict;
    }

    private static Value FromToolCall(ChatToolCall call)
    {
        Value arguments = new StringValue(call.ArgumentsJson);
        try
        {
            using var document = JsonDocument.Parse(call.ArgumentsJson);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                arguments = FromJson(document.RootElement);
            }
        }
        catch (JsonException)
        {
            // Not JSON: templates get the text as it is.
        }

        var function = new DictValue();
        function.Set("name", new StringValue(call.Name));
        function.Set("arguments", arguments);
        var dict = new DictValue();
        if (call.Id is not null)
        {
            dict.Set("id", new StringValue(call.Id));
        }

        dict.Set("type", new StringValue(call.Type));
        dict.Set("function", function);
        return dict;
    }

    private static DictValue FromPairs(IEnumerable<KeyValuePair<string, object?>> pairs, int depth)
    {
        var dict = new DictValue();
        foreach (var pair in pairs)
        {
            dict.Set(pair.Key, FromObject(pair.Value, depth + 1));
        }

        return dict;
    }

    private static void AddExtra(DictValue dict, IReadOnlyDictionary<string, object?>? extra)
    {
        if (extra is null)
        {
            return;
        }

        foreach (var pair in extra)
        {
            dict.Set(pair.Key, FromObject(pair.Value, 1));
        }
    }
}
