using System.Globalization;
using System.Text.Json;
using Sluice.Engine.Models.HuggingFace;
using Sluice.Engine.Sampling;
using Sluice.Engine.Sampling.Grammars;
using Sluice.Hosting.Errors;
using Sluice.OpenAi;

namespace Sluice.Server.Requests;

/// <summary>
/// The sampling fields of a request to <see cref="SamplingParams"/>: OpenAI's names and vLLM's extensions;
/// where a request is silent, the model's generation_config.json recommendations, then vLLM's defaults.
/// </summary>
internal static class SamplingReader
{
    public static SamplingParams Read(SamplingFields f, int maxTokens, int? logprobs, GenerationDefaults? defaults, int vocabSize, GrammarMatcher? grammar = null)
    {
        if (f.StreamOptions is not null && f.Stream != true)
        {
            // OpenAI refuses it too: a whole answer has no stream to put the usage chunk in
            throw ApiException.BadRequest("'stream_options' is only allowed when 'stream' is true.", "stream_options");
        }
        var p = new SamplingParams
        {
            Temperature = f.Temperature ?? (float?)defaults?.Temperature ?? 1f,
            TopP = f.TopP ?? (float?)defaults?.TopP ?? 1f,
            TopK = f.TopK ?? defaults?.TopK ?? 0,
            MinP = f.MinP ?? (float?)defaults?.MinP ?? 0f,
            RepetitionPenalty = f.RepetitionPenalty ?? (float?)defaults?.RepetitionPenalty ?? 1f,
            PresencePenalty = f.PresencePenalty ?? 0f,
            FrequencyPenalty = f.FrequencyPenalty ?? 0f,
            Seed = f.Seed is { } seed ? unchecked((ulong)seed) : null,
            ContinuedTokens = f.ContinuedTokens ?? 0,
            MaxTokens = maxTokens,
            MinTokens = f.MinTokens ?? 0,
            IgnoreEos = f.IgnoreEos ?? false,
            StopTokenIds = f.StopTokenIds ?? [],
            Stop = ReadStop(f.Stop),
            IncludeStopStringInOutput = f.IncludeStopStrInOutput ?? false,
            LogitBias = ReadLogitBias(f.LogitBias),
            Logprobs = logprobs,
            N = f.N ?? 1,
            Grammar = grammar,
        };
        try
        {
            p.Validate(vocabSize);
        }
        catch (ArgumentException ex)
        {
            throw ApiException.BadRequest(ex.Message, ex.Message.Split(' ')[0]);
        }
        return p;
    }

    /// <summary>
    /// max_tokens as asked, or when not asked <paramref name="fallback"/> (null: what is left of the context after the
    /// longest prompt), never more than that room; a context-length error names <paramref name="promptField"/>, the
    /// request's field the prompt came from (<c>prompt</c>, <c>messages</c>), and an out-of-range value names
    /// <paramref name="requestedField"/> (<c>max_tokens</c> or <c>max_completion_tokens</c>). <paramref name="ceiling"/>
    /// is the server's --max-output-tokens: the most a request may ask for, and a bound on the fallback too.
    /// </summary>
    public static int MaxTokens(int? requested, IReadOnlyList<int[]> prompts, int maxModelLen, string promptField, string requestedField = "max_tokens",
        int? fallback = null, int? ceiling = null)
    {
        int longest = prompts.Max(p => p.Length);
        if (longest >= maxModelLen)
        {
            throw ApiException.TooLong(string.Create(CultureInfo.InvariantCulture,
                $"This model's maximum context length is {maxModelLen} tokens. However, your prompt has {longest} tokens, leaving no room for the completion. Please shorten the prompt."), promptField);
        }
        if (requested is null)
        {
            int room = maxModelLen - longest;
            return Math.Min(room, Math.Min(fallback ?? room, ceiling ?? room));
        }
        if (requested < 1)
        {
            throw ApiException.BadRequest($"{requestedField} must be at least 1, got {requested}.", requestedField);
        }
        if (requested > ceiling)
        {
            throw ApiException.BadRequest(string.Create(CultureInfo.InvariantCulture,
                $"{requestedField} is {requested}, above this server's limit of {ceiling} output tokens (--max-output-tokens)."), requestedField);
        }
        if ((long)longest + requested.Value > maxModelLen)
        {
            throw ApiException.TooLong(string.Create(CultureInfo.InvariantCulture,
                $"This model's maximum context length is {maxModelLen} tokens. However, you requested {(long)longest + requested.Value} tokens ({longest} in the prompt, {requested} in the completion). Please reduce the length of the prompt or completion."), promptField);
        }
        return requested.Value;
    }

    private static IReadOnlyList<string> ReadStop(JsonElement? stop)
    {
        switch (stop?.ValueKind)
        {
            case null or JsonValueKind.Null or JsonValueKind.Undefined:
                return [];
            case JsonValueKind.String:
                return [stop.Value.GetString()!];
            case JsonValueKind.Array:
                var list = new List<string>();
                foreach (var s in stop.Value.EnumerateArray())
                {
                    if (s.ValueKind != JsonValueKind.String)
                    {
                        throw ApiException.BadRequest("'stop' must be a string or an array of strings.", "stop");
                    }
                    list.Add(s.GetString()!);
                }
                return list;
            default:
                throw ApiException.BadRequest("'stop' must be a string or an array of strings.", "stop");
        }
    }

    private static Dictionary<int, float>? ReadLogitBias(Dictionary<string, float>? bias)
    {
        if (bias is null)
        {
            return null;
        }
        var result = new Dictionary<int, float>(bias.Count);
        foreach (var (key, value) in bias)
        {
            if (!int.TryParse(key, NumberStyles.Integer, CultureInfo.InvariantCulture, out int id))
            {
                throw ApiException.BadRequest($"'logit_bias' keys must be token ids, got '{key}'.", "logit_bias");
            }
            result[id] = value;
        }
        return result;
    }

    /// <summary>Completions' <c>logprobs</c>: an integer 0..20 or null.</summary>
    public static int? CompletionLogprobs(JsonElement? logprobs) => logprobs?.ValueKind switch
    {
        null or JsonValueKind.Null or JsonValueKind.Undefined or JsonValueKind.False => null,
        JsonValueKind.Number when logprobs.Value.TryGetInt32(out int k) => k,
        _ => throw ApiException.BadRequest("'logprobs' must be an integer (the number of top log-probabilities per token) or null.", "logprobs"),
    };

    /// <summary>Chat's <c>logprobs</c> (a boolean) with <c>top_logprobs</c>.</summary>
    public static int? ChatLogprobs(JsonElement? logprobs, int? top)
    {
        bool on = logprobs?.ValueKind switch
        {
            null or JsonValueKind.Null or JsonValueKind.Undefined or JsonValueKind.False => false,
            JsonValueKind.True => true,
            _ => throw ApiException.BadRequest("'logprobs' must be true or false.", "logprobs"),
        };
        if (top is not null && !on)
        {
            throw ApiException.BadRequest("'top_logprobs' needs 'logprobs' set to true.", "top_logprobs");
        }
        if (top is < 0 or > SamplingParams.MaxLogprobs)
        {
            // checked here: SamplingParams knows it only as logprobs, the completions name
            throw ApiException.BadRequest($"top_logprobs must be between 0 and {SamplingParams.MaxLogprobs}, got {top}.", "top_logprobs");
        }
        return on ? top ?? 0 : null;
    }
}
