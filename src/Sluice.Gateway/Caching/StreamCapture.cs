using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sluice.Gateway.Caching;

/// <summary>
/// The chunks a fresh stream sent its client, assembled into the non-streamed answer the cache stores (so that a later
/// request, streamed or not, is answered from it). Only plain answers are assembled: a chunk carrying anything but a
/// role, text and a finish reason (tool-call deltas, logprobs, token ids) makes the stream uncacheable, as does text
/// beyond max_entry_size.
/// </summary>
internal sealed class StreamCapture(bool chat, long maxBytes)
{
    private sealed class Choice
    {
        public StringBuilder Text { get; } = new();
        public string? Finish { get; set; }
        public JsonNode? StopReason { get; set; }
    }

    private readonly SortedDictionary<int, Choice> _choices = [];

    public bool Chat => chat;
    private JsonObject? _first;
    private long _bytes;

    /// <summary>Set once the stream holds something the assembled answer could not say: it is not stored.</summary>
    public bool Uncacheable { get; private set; }

    public void Add(JsonObject chunk)
    {
        if (Uncacheable || chunk["choices"] is not JsonArray choices)
        {
            return;
        }
        _first ??= chunk;
        foreach (var node in choices)
        {
            if (node is not JsonObject choice || !Read(choice))
            {
                Uncacheable = true;
                return;
            }
        }
        if (_bytes > maxBytes)
        {
            Uncacheable = true;
        }
    }

    private bool Read(JsonObject choice)
    {
        int index = choice["index"] is JsonValue i && i.TryGetValue(out int n) ? n : 0;
        if (!_choices.TryGetValue(index, out var state))
        {
            _choices[index] = state = new Choice();
        }
        foreach (var (name, value) in choice)
        {
            switch (name)
            {
                case "index":
                    break;
                case "finish_reason":
                    state.Finish = value is JsonValue f && f.TryGetValue(out string? finish) ? finish : state.Finish;
                    break;
                case "stop_reason":
                    state.StopReason = value?.DeepClone();
                    break;
                case "text" when !chat:
                    if (!Append(state, value))
                    {
                        return false;
                    }
                    break;
                case "delta" when chat && value is JsonObject delta:
                    foreach (var (field, part) in delta)
                    {
                        if (field == "content" ? !Append(state, part) : field != "role" && part is not null)
                        {
                            return false;
                        }
                    }
                    break;
                case "logprobs" when value is null:
                    break;
                default:
                    return false;
            }
        }
        return true;
    }

    private bool Append(Choice state, JsonNode? part)
    {
        if (part is null)
        {
            return true;
        }
        if (part is not JsonValue v || !v.TryGetValue(out string? text))
        {
            return false;
        }
        state.Text.Append(text);
        _bytes += text.Length;
        return true;
    }

    /// <summary>The answer as a non-streamed body with <paramref name="usage"/>; null when it cannot be stored (not every choice finished well).</summary>
    public byte[]? Assemble(JsonObject usage)
    {
        if (Uncacheable || _first is null || _choices.Count == 0 || _choices.Values.Any(c => !ResponseCache.Complete(c.Finish)))
        {
            return null;
        }
        var choices = new JsonArray();
        foreach (var (index, c) in _choices)
        {
            var choice = new JsonObject { ["index"] = index };
            if (chat)
            {
                choice["message"] = new JsonObject { ["role"] = "assistant", ["content"] = c.Text.ToString() };
            }
            else
            {
                choice["text"] = c.Text.ToString();
            }
            choice["logprobs"] = null;
            choice["finish_reason"] = c.Finish;
            if (c.StopReason is not null)
            {
                choice["stop_reason"] = c.StopReason;
            }
            choices.Add(choice);
        }
        var body = new JsonObject
        {
            ["id"] = _first["id"]?.DeepClone(),
            ["object"] = chat ? "chat.completion" : "text_completion",
            ["created"] = _first["created"]?.DeepClone(),
            ["model"] = _first["model"]?.DeepClone(),
        };
        if (_first["system_fingerprint"] is { } fingerprint)
        {
            body["system_fingerprint"] = fingerprint.DeepClone();
        }
        body["choices"] = choices;
        body["usage"] = usage.DeepClone();
        return JsonSerializer.SerializeToUtf8Bytes(body, Forwarding.JsonContext.Default.JsonObject);
    }
}
