using System.Globalization;
using System.Text.Json.Nodes;
using Sluice.OpenAi;
using Sluice.Server.Chat.ToolCalls;
using Sluice.Server.Generation;

namespace Sluice.Server.Routes.Responses;

/// <summary>
/// A Responses API <c>response</c> object as it grows: its output items (assistant messages with output_text,
/// function_call items) in the order the model wrote them, fed the <see cref="ToolCallPiece"/>s a choice's parser makes.
/// The streamed route reports each change as an event; both routes end with <see cref="Build"/>.
/// </summary>
internal sealed class ResponseDocument(GenerationJob job, long createdAt)
{
    private readonly List<JsonObject> _items = [];
    private JsonObject? _open; // the item being written: a message or a function call

    public string Id => "resp_" + job.RequestId;

    /// <summary>The response with its output so far; <paramref name="status"/> in_progress, completed or incomplete.</summary>
    public JsonObject Build(string status, Usage? usage)
    {
        var response = new JsonObject
        {
            ["id"] = Id,
            ["object"] = "response",
            ["created_at"] = createdAt,
            ["status"] = status,
            ["error"] = null,
            ["incomplete_details"] = status == "incomplete" ? new JsonObject { ["reason"] = "max_output_tokens" } : null,
            ["model"] = job.Model,
            ["output"] = new JsonArray([.. _items.Select(i => i.DeepClone())]),
            ["parallel_tool_calls"] = job.Tools?.Parallel ?? true,
            ["store"] = false,
            ["usage"] = usage is null ? null : new JsonObject
            {
                ["input_tokens"] = usage.PromptTokens,
                ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = usage.PromptTokensDetails?.CachedTokens ?? 0 },
                ["output_tokens"] = usage.CompletionTokens,
                ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = 0 },
                ["total_tokens"] = usage.TotalTokens,
            },
        };
        return response;
    }

    /// <summary>Takes a piece of output; returns the events it makes (type and fields, without sequence numbers).</summary>
    public List<JsonObject> Add(string content, IReadOnlyList<ToolCallDelta> calls)
    {
        var events = new List<JsonObject>();
        if (content.Length > 0)
        {
            if (_open?["type"]?.GetValue<string>() != "message")
            {
                Close(events);
                _open = new JsonObject
                {
                    ["id"] = ItemId("msg"),
                    ["type"] = "message",
                    ["status"] = "in_progress",
                    ["role"] = "assistant",
                    ["content"] = new JsonArray(),
                };
                events.Add(Event("response.output_item.added", ("output_index", _items.Count), ("item", _open.DeepClone())));
                events.Add(Event("response.content_part.added", ("item_id", OpenId), ("output_index", _items.Count), ("content_index", 0), ("part", Part(""))));
                _open["content"]!.AsArray().Add(Part(""));
            }
            var part = _open["content"]![0]!;
            part["text"] = part["text"]!.GetValue<string>() + content;
            events.Add(Event("response.output_text.delta", ("item_id", OpenId), ("output_index", _items.Count), ("content_index", 0), ("delta", content)));
        }
        foreach (var d in calls)
        {
            if (d.Id is not null)
            {
                Close(events);
                _open = new JsonObject
                {
                    ["id"] = ItemId("fc"),
                    ["type"] = "function_call",
                    ["status"] = "in_progress",
                    ["call_id"] = d.Id,
                    ["name"] = d.Function.Name,
                    ["arguments"] = "",
                };
                events.Add(Event("response.output_item.added", ("output_index", _items.Count), ("item", _open.DeepClone())));
            }
            else if (_open is not null && d.Function.Arguments is { Length: > 0 } piece)
            {
                _open["arguments"] = _open["arguments"]!.GetValue<string>() + piece;
                events.Add(Event("response.function_call_arguments.delta", ("item_id", OpenId), ("output_index", _items.Count), ("delta", piece)));
            }
        }
        return events;
    }

    /// <summary>Ends the item being written, with its done events.</summary>
    public void Close(List<JsonObject> events)
    {
        if (_open is null)
        {
            return;
        }
        var item = _open;
        _open = null;
        item["status"] = "completed";
        int index = _items.Count;
        string id = item["id"]!.GetValue<string>();
        if (item["type"]!.GetValue<string>() == "message")
        {
            var part = item["content"]![0]!;
            events.Add(Event("response.output_text.done", ("item_id", id), ("output_index", index), ("content_index", 0), ("text", part["text"]!.GetValue<string>())));
            events.Add(Event("response.content_part.done", ("item_id", id), ("output_index", index), ("content_index", 0), ("part", part.DeepClone())));
        }
        else
        {
            events.Add(Event("response.function_call_arguments.done", ("item_id", id), ("output_index", index), ("arguments", item["arguments"]!.GetValue<string>())));
        }
        _items.Add(item);
        events.Add(Event("response.output_item.done", ("output_index", index), ("item", item.DeepClone())));
    }

    /// <summary>Whether the output has a function call (then a completed response ends the turn for the caller to run it).</summary>
    public bool HasCalls => _items.Any(i => i["type"]!.GetValue<string>() == "function_call");

    private string OpenId => _open!["id"]!.GetValue<string>();

    private string ItemId(string prefix) => string.Create(CultureInfo.InvariantCulture, $"{prefix}_{job.RequestId}_{_items.Count}");

    private static JsonObject Part(string text) => new() { ["type"] = "output_text", ["text"] = text, ["annotations"] = new JsonArray() };

    public static JsonObject Event(string type, params (string Name, JsonNode? Value)[] fields)
    {
        var e = new JsonObject { ["type"] = type };
        foreach (var (name, value) in fields)
        {
            e[name] = value;
        }
        return e;
    }
}
