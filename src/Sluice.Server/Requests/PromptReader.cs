using System.Text.Json;
using Sluice.Engine.Tokenization;
using Sluice.Hosting.Errors;

namespace Sluice.Server.Requests;

/// <summary>
/// A completions <c>prompt</c> in any shape OpenAI and vLLM accept: a string, a list of strings (a
/// batch), a list of token ids, or a list of token-id lists. Each becomes one prompt of token ids.
/// </summary>
internal static class PromptReader
{
    private const string Shapes = "a string, an array of strings, an array of token ids, or an array of token-id arrays";

    /// <param name="maxTokens">Refuse a text prompt once it has more tokens than this, before tokenizing the rest of it.</param>
    public static List<int[]> Read(JsonElement? prompt, Tokenizer tokenizer, bool addSpecial, int maxTokens)
    {
        var p = prompt ?? default;
        switch (p.ValueKind)
        {
            case JsonValueKind.String:
                return [Text(p.GetString()!, tokenizer, addSpecial, maxTokens)];
            case JsonValueKind.Array:
                if (p.GetArrayLength() == 0)
                {
                    throw ApiException.BadRequest("'prompt' must not be empty.", "prompt");
                }
                var first = p[0].ValueKind;
                if (first == JsonValueKind.Number)
                {
                    return [Ids(p, tokenizer.VocabSize, "prompt")];
                }
                var prompts = new List<int[]>();
                int i = 0;
                foreach (var item in p.EnumerateArray())
                {
                    if (item.ValueKind != first)
                    {
                        throw ApiException.BadRequest($"'prompt' must be {Shapes}; its items mix types.", "prompt");
                    }
                    prompts.Add(item.ValueKind switch
                    {
                        JsonValueKind.String => Text(item.GetString()!, tokenizer, addSpecial, maxTokens),
                        JsonValueKind.Array => Ids(item, tokenizer.VocabSize, $"prompt[{i}]"),
                        _ => throw ApiException.BadRequest($"'prompt' must be {Shapes}.", "prompt"),
                    });
                    i++;
                }
                return prompts;
            case JsonValueKind.Undefined or JsonValueKind.Null:
                throw ApiException.BadRequest("'prompt' is required.", "prompt");
            default:
                throw ApiException.BadRequest($"'prompt' must be {Shapes}.", "prompt");
        }
    }

    private static int[] Text(string text, Tokenizer tokenizer, bool addSpecial, int maxTokens)
    {
        int[] ids;
        try
        {
            ids = tokenizer.Encode(text, addSpecial, parseSpecial: true, maxTokens);
        }
        catch (TokenLimitExceededException ex)
        {
            throw PromptErrors.TooLong(ex, "prompt");
        }
        return ids.Length > 0 ? ids : throw ApiException.BadRequest("The prompt is empty: it has no tokens.", "prompt");
    }

    private static int[] Ids(JsonElement array, int vocabSize, string where)
    {
        if (array.GetArrayLength() == 0)
        {
            throw ApiException.BadRequest($"'{where}' must not be empty.", "prompt");
        }
        var ids = new int[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int id))
            {
                throw ApiException.BadRequest($"'{where}' must hold only integer token ids.", "prompt");
            }
            if ((uint)id >= (uint)vocabSize)
            {
                throw ApiException.BadRequest($"'{where}' has token id {id}, outside the vocabulary (0..{vocabSize - 1}).", "prompt");
            }
            ids[i++] = id;
        }
        return ids;
    }
}
