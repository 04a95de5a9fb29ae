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
    /// <param name="field">The request's field it came from (prompt; input for embeddings), named by every error.</param>
    public static List<int[]> Read(JsonElement? prompt, Tokenizer tokenizer, bool addSpecial, int maxTokens, string field = "prompt")
    {
        var p = prompt ?? default;
        switch (p.ValueKind)
        {
            case JsonValueKind.String:
                return [Text(p.GetString()!, tokenizer, addSpecial, maxTokens, field)];
            case JsonValueKind.Array:
                if (p.GetArrayLength() == 0)
                {
                    throw ApiException.BadRequest($"'{field}' must not be empty.", field);
                }
                var first = p[0].ValueKind;
                if (first == JsonValueKind.Number)
                {
                    return [Ids(p, tokenizer.VocabSize, field, field)];
                }
                var prompts = new List<int[]>();
                int i = 0;
                foreach (var item in p.EnumerateArray())
                {
                    if (item.ValueKind != first)
                    {
                        throw ApiException.BadRequest($"'{field}' must be {Shapes}; its items mix types.", field);
                    }
                    prompts.Add(item.ValueKind switch
                    {
                        JsonValueKind.String => Text(item.GetString()!, tokenizer, addSpecial, maxTokens, field),
                        JsonValueKind.Array => Ids(item, tokenizer.VocabSize, $"{field}[{i}]", field),
                        _ => throw ApiException.BadRequest($"'{field}' must be {Shapes}.", field),
                    });
                    i++;
                }
                return prompts;
            case JsonValueKind.Undefined or JsonValueKind.Null:
                throw ApiException.BadRequest($"'{field}' is required.", field);
            default:
                throw ApiException.BadRequest($"'{field}' must be {Shapes}.", field);
        }
    }

    private static int[] Text(string text, Tokenizer tokenizer, bool addSpecial, int maxTokens, string field)
    {
        int[] ids;
        try
        {
            ids = tokenizer.Encode(text, addSpecial, parseSpecial: true, maxTokens);
        }
        catch (TokenLimitExceededException ex)
        {
            throw PromptErrors.TooLong(ex, field);
        }
        return ids.Length > 0 ? ids : throw ApiException.BadRequest($"The {field} is empty: it has no tokens.", field);
    }

    private static int[] Ids(JsonElement array, int vocabSize, string where, string field)
    {
        if (array.GetArrayLength() == 0)
        {
            throw ApiException.BadRequest($"'{where}' must not be empty.", field);
        }
        var ids = new int[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int id))
            {
                throw ApiException.BadRequest($"'{where}' must hold only integer token ids.", field);
            }
            if ((uint)id >= (uint)vocabSize)
            {
                throw ApiException.BadRequest($"'{where}' has token id {id}, outside the vocabulary (0..{vocabSize - 1}).", field);
            }
            ids[i++] = id;
        }
        return ids;
    }
}
