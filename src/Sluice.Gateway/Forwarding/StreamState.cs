using System.Text;
using System.Text.Json.Nodes;
using Sluice.Gateway.Routing;

namespace Sluice.Gateway.Forwarding;

/// <summary>How an attempt of a stream asks its backend: the request as sent, or a continuation of what the client already has.</summary>
internal enum StreamMode
{
    /// <summary>The client's request (nothing sent to the client yet).</summary>
    Fresh,

    /// <summary>sluice serve: /v1/completions with the prompt's token ids and the ids generated so far: exact.</summary>
    Tokens,

    /// <summary>Completions elsewhere: the prompt and the text so far as the new prompt.</summary>
    Text,

    /// <summary>Chat elsewhere: the text so far as a final assistant message the backend continues.</summary>
    Prefill,

    /// <summary>A backend that cannot continue: the request again, the text the client already has skipped (it must match).</summary>
    Restart,
}

/// <summary>One client stream across the attempts that serve it: what the client has been sent and how to continue it.</summary>
internal sealed class StreamState(JsonObject body, bool chat, string requestId, long arrival)
{
    private static readonly string[] ConstrainedFields =
        ["tools", "tool_choice", "functions", "response_format", "guided_json", "guided_regex", "guided_choice", "guided_grammar", "grammar", "logprobs",
         "top_logprobs", "continue_final_message", "echo", "suffix", "best_of", "prompt_logprobs"];

    public JsonObject Body { get; } = body;
    public bool Chat { get; } = chat;
    public string RequestId { get; } = requestId;
    public long Arrival { get; } = arrival;

    public bool ClientUsage { get; } = body["stream_options"] is JsonObject o && o["include_usage"] is JsonValue v && v.TryGetValue(out bool b) && b;
    public bool ClientTokenIds { get; } = body["return_token_ids"] is JsonValue v && v.TryGetValue(out bool b) && b;

    public int? MaxTokens { get; } = IntOf(body[chat && body["max_completion_tokens"] is not null ? "max_completion_tokens" : "max_tokens"]);

    /// <summary>One choice (n 1, one prompt): a cut stream can be continued; otherwise a cut ends with an error event.</summary>
    public bool Continuable { get; set; } = (IntOf(body["n"]) ?? 1) == 1 && (chat ? body["messages"] is JsonArray : body["prompt"] is JsonValue p && p.TryGetValue(out string? _));

    /// <summary>Whether the exact token-level continuation may be used: nothing in the request that a plain completion would lose.</summary>
    public bool TokenExact { get; } = !ConstrainedFields.Any(body.ContainsKey);

    /// <summary>The client's response has started (headers and at least one token sent).</summary>
    public bool Started { get; set; }

    public string? StreamId { get; set; }
    public long Created { get; set; }
    public string? AnsweredModel { get; set; }
    public Deployment? First { get; set; }

    public StringBuilder Text { get; } = new();
    public List<int> TokenIds { get; } = [];

    /// <summary>Every token sent so far came with its id (sluice serve with return_token_ids).</summary>
    public bool IdsComplete { get; set; } = true;

    /// <summary>Of <see cref="TokenIds"/>, those whose text the client has: ids after the last chunk with text came with
    /// text held back (half a character, a possible stop string); a token-level continuation generates them again.</summary>
    public int Committed { get; set; }

    /// <summary>Ids the client already has (their text was held back) that a token-level continuation generates again:
    /// left out of the ids the client is sent.</summary>
    public int ResentIds { get; set; }

    /// <summary>Token chunks sent to the client.</summary>
    public int Tokens { get; set; }

    /// <summary>The prompt's token ids as sluice serve renders it (from /tokenize), once asked for.</summary>
    public int[]? PromptIds { get; set; }

    /// <summary>The failure that cut the stream first: what the client is told when nothing can continue it.</summary>
    public string? FirstCut { get; set; }

    public int Continuations { get; set; }

    /// <summary>The response cache's plan for this request, and the chunks it assembles into the answer it stores
    /// (null: not stored; dropped when the stream is continued: only a fresh single-attempt stream is stored).</summary>
    public Caching.CachePlan CachePlan { get; set; }
    public Caching.StreamCapture? Capture { get; set; }

    /// <summary>The model the client asked for: an answer from a fallback model is not stored.</summary>
    public string RequestedModel { get; set; } = "";
    public long LastTokenAt { get; set; }

    public string Object => Chat ? "chat.completion.chunk" : "text_completion";

    private static int? IntOf(JsonNode? node) => node is JsonValue v && v.TryGetValue(out int i) ? i : null;
}
