using System.Text.Json.Nodes;
using Sluice.Gateway.Routing;

namespace Sluice.Gateway.Forwarding;

/// <summary>How an attempt of a stream asks its backend: the request as sent, or a continuation of what the client already has.</summary>
internal enum StreamMode
{
    /// <summary>The client's request (nothing sent to the client yet).</summary>
    Fresh,

    /// <summary>sluice serve: /v1/completions with the prompt's token ids and <c>continued_token_ids</c>, every id generated
    /// so far, after which the server's sampler, detokenizer and stop strings resume: exact, stop strings across the cut too.</summary>
    Tokens,

    /// <summary>An older sluice serve (no <c>continued_token_ids</c>): the prompt's ids and the ids whose text the client
    /// has as the prompt, <c>continued_tokens</c> for the seeded sampler: exact without stop strings.</summary>
    PromptTokens,

    /// <summary>Completions elsewhere: the prompt and the text so far as the new prompt (a prompt of token ids: its ids and
    /// the ids whose text the client has).</summary>
    Text,

    /// <summary>sluice serve, chat with tools or constraints: the chat request with continued_token_ids (the ids so far),
    /// which the server's sampler, grammar, detokenizer and tool-call parser resume after: exact, a tool call's too.</summary>
    ChatTokens,

    /// <summary>Chat elsewhere: the text so far as a final assistant message the backend continues.</summary>
    Prefill,

    /// <summary>A backend that cannot continue: the request again, the text the client already has skipped (it must match).</summary>
    Restart,
}

/// <summary>
/// One client stream across the attempts that serve it: what the client has been sent, per choice, and how to continue
/// it. A stream has <c>n</c> choices per prompt (chat: one prompt; completions: a prompt or an array of them, choice
/// index = prompt × n + place); each is tracked on its own, so a cut stream of several choices continues every
/// unfinished one as its own <c>n: 1</c> request.
/// </summary>
internal sealed class StreamState
{
    /// <summary>
    /// At most this many choices of a cut stream are continued at once (each is its own request to a replica): a stream of
    /// more continues them in waves as earlier ones finish, so a cut n 500 stream does not fan out 500 requests at once.
    /// </summary>
    public const int ContinuationConcurrency = 16;

    private static readonly string[] ConstrainedFields =
        ["tools", "tool_choice", "functions", "response_format", "guided_json", "guided_regex", "guided_choice", "guided_grammar", "grammar", "logprobs",
         "top_logprobs", "continue_final_message", "echo", "suffix", "best_of", "prompt_logprobs"];

    private readonly Dictionary<int, ChoiceState> _choices = [];

    public StreamState(JsonObject body, bool chat, string requestId, long arrival)
    {
        (Body, Chat, RequestId, Arrival) = (body, chat, requestId, arrival);
        ClientUsage = body["stream_options"] is JsonObject o && o["include_usage"] is JsonValue v && v.TryGetValue(out bool b) && b;
        ClientTokenIds = body["return_token_ids"] is JsonValue r && r.TryGetValue(out bool t) && t;
        MaxTokens = IntOf(body[chat && body["max_completion_tokens"] is not null ? "max_completion_tokens" : "max_tokens"]);
        N = Math.Max(1, IntOf(body["n"]) ?? 1);
        bool text = chat ? body["messages"] is JsonArray
            : body["prompt"] is JsonValue p && p.TryGetValue(out string? _)
            || (body["prompt"] is JsonArray strings && strings.Count > 0 && strings.All(e => e is JsonValue x && x.TryGetValue(out string? _)));
        // a prompt of token ids: one list of ids, or an array of such lists
        IdPrompts = !chat && body["prompt"] is JsonArray { Count: > 0 } idList
            && (idList.All(IsId) || idList.All(e => e is JsonArray { Count: > 0 } inner && inner.All(IsId)));
        // a prompt array (of texts or of token-id lists) has n choices per prompt; a list of ids is one prompt
        Prompts = !chat && body["prompt"] is JsonArray { Count: > 0 } list && (list[0] is JsonArray || (list[0] is JsonValue f && f.TryGetValue(out string? _))) ? list.Count : 1;
        ChoiceCount = (long)N * Prompts;
        Continuable = text || IdPrompts;
        TokenExact = !ConstrainedFields.Any(body.ContainsKey);
        ChatResumable = chat && !body.ContainsKey("functions") && !body.ContainsKey("function_call");
        PromptIds = new int[]?[Prompts];
        PromptTokens = new int?[Prompts];
        if (IdPrompts)
        {
            // the ids are the prompt as the client gave it: nothing to ask /tokenize for
            var prompt = (JsonArray)body["prompt"]!;
            for (int i = 0; i < Prompts; i++)
            {
                var ids = prompt[0] is JsonArray ? (JsonArray)prompt[i]! : prompt;
                PromptIds[i] = [.. ids.Select(id => id!.GetValue<int>())];
            }
        }
    }

    private static bool IsId(JsonNode? node) => node is JsonValue v && v.TryGetValue(out int _);

    public JsonObject Body { get; }
    public bool Chat { get; }
    public string RequestId { get; }
    public long Arrival { get; }

    public bool ClientUsage { get; }
    public bool ClientTokenIds { get; }

    public int? MaxTokens { get; }

    /// <summary>The request's n: choices per prompt.</summary>
    public int N { get; }

    /// <summary>Prompts: 1 for chat, a text prompt or one list of token ids; an array's length for an array of prompts.</summary>
    public int Prompts { get; }

    /// <summary>Choices in the client's stream: n per prompt.</summary>
    public long ChoiceCount { get; }

    /// <summary>One choice: a cut is continued by the one-attempt-at-a-time loop; several: each unfinished choice on its own.</summary>
    public bool SingleChoice => ChoiceCount == 1;

    /// <summary>Chat, text prompts or token-id prompts: a cut stream can be continued (a prompt of another shape was
    /// refused by the backend before anything was sent).</summary>
    public bool Continuable { get; }

    /// <summary>The completions prompt is token ids (a list of ints, or a list of such lists): continued by ids, never by text.</summary>
    public bool IdPrompts { get; }

    /// <summary>Whether the exact token-level continuation may be used: nothing in the request that a plain completion would lose.</summary>
    public bool TokenExact { get; }

    /// <summary>A chat request sluice serve can continue from token ids itself (<see cref="StreamMode.ChatTokens"/>): not the
    /// deprecated functions, which it refuses; stop strings too (it resumes their matcher after the ids).</summary>
    public bool ChatResumable { get; }

    /// <summary>The client's response has started (headers and at least one token sent).</summary>
    public bool Started { get; set; }

    public string? StreamId { get; set; }
    public long Created { get; set; }
    public string? AnsweredModel { get; set; }
    public Deployment? First { get; set; }

    /// <summary>Each prompt's token ids as sluice serve renders it (from /tokenize), once asked for.</summary>
    public int[]?[] PromptIds { get; }

    /// <summary>Each prompt's tokens as a continuation's usage gave them (its prompt less the tokens it carried).</summary>
    public int?[] PromptTokens { get; }

    /// <summary>The failure that cut the stream first: what the client is told when nothing can continue it.</summary>
    public string? FirstCut { get; set; }

    /// <summary>The response cache's plan for this request, and the chunks it assembles into the answer it stores
    /// (null: not stored; dropped when the stream is continued: only a fresh single-attempt stream is stored).</summary>
    public Caching.CachePlan CachePlan { get; set; }
    public Caching.StreamCapture? Capture { get; set; }

    /// <summary>The model the client asked for: an answer from a fallback model is not stored.</summary>
    public string RequestedModel { get; set; } = "";
    public long LastTokenAt { get; set; }

    /// <summary>Held while a chunk is written and its choice's bookkeeping done: a cut stream's choices continue concurrently.</summary>
    public SemaphoreSlim WriteLock { get; } = new(1, 1);

    /// <summary>Token chunks sent to the client, every choice together.</summary>
    public int Tokens
    {
        get
        {
            lock (_choices)
            {
                return _choices.Values.Sum(c => c.Tokens);
            }
        }
    }

    /// <summary>The choice with this index in the client's stream; null for an index the request cannot have.</summary>
    public ChoiceState? Choice(int index)
    {
        if (index < 0 || index >= ChoiceCount)
        {
            return null;
        }
        lock (_choices)
        {
            if (!_choices.TryGetValue(index, out var choice))
            {
                _choices[index] = choice = new ChoiceState(index, N);
            }
            return choice;
        }
    }

    /// <summary>Every choice of the stream has finished (the client was sent each one's finish_reason).</summary>
    public bool AllFinished
    {
        get
        {
            lock (_choices)
            {
                return _choices.Count == ChoiceCount && _choices.Values.All(c => c.Finish is not null);
            }
        }
    }

    /// <summary>The choices not finished yet (every one the request has, those not seen yet included), by index.</summary>
    public List<ChoiceState> Unfinished() =>
        [.. Enumerable.Range(0, (int)ChoiceCount).Select(i => Choice(i)!).Where(c => c.Finish is null)];

    /// <summary>The text of prompt <paramref name="prompt"/> (a completions request's prompt or its array's entry).</summary>
    public string PromptText(int prompt) => Body["prompt"] is JsonArray list ? list[prompt]!.GetValue<string>() : Body["prompt"]!.GetValue<string>();

    /// <summary>Prompt <paramref name="prompt"/> as one request's prompt: its text, or its list of token ids.</summary>
    public JsonNode PromptNode(int prompt) => IdPrompts ? new JsonArray([.. PromptIds[prompt]!.Select(id => (JsonNode?)JsonValue.Create(id))]) : JsonValue.Create(PromptText(prompt));

    /// <summary>Prompt <paramref name="prompt"/>'s tokens without a tokenizer: token ids counted, text estimated.</summary>
    public int EstimatedPromptTokens(int prompt) => Body["prompt"] is JsonArray { Count: > 1 } list && Prompts > 1
        ? RequestShape.PromptTokens(new JsonObject { ["prompt"] = list[prompt]?.DeepClone() })
        : RequestShape.PromptTokens(Body);

    /// <summary>The seed sluice serve samples a choice with: the request's <c>seed</c> plus its place among its prompt's choices (LlmEngine.Fork), wrapping as the server's unsigned seed does.</summary>
    public JsonNode? SeedOf(ChoiceState choice) =>
        Body["seed"] is JsonValue v && v.TryGetValue(out long seed) ? JsonValue.Create(unchecked(seed + choice.SeedOffset)) : Body["seed"]?.DeepClone();

    public string Object => Chat ? "chat.completion.chunk" : "text_completion";

    private static int? IntOf(JsonNode? node) => node is JsonValue v && v.TryGetValue(out int i) ? i : null;
}
