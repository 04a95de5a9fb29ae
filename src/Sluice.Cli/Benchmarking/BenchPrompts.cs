using System.Text;

namespace Sluice.Cli.Benchmarking;

/// <summary>
/// Distinct prompts of about N tokens for a server whose tokenizer the client does not know: common English
/// words, one token each in the BPE vocabularies of the usual model families, in a seeded random order (so
/// prompts share no prefix beyond the first word). The server's usage reports the real count.
/// </summary>
internal static class BenchPrompts
{
    private static readonly string[] Words =
    [
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not", "he", "this",
        "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were", "their", "one", "all",
        "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "time", "people",
        "year", "way", "day", "man", "thing", "woman", "life", "child", "world", "school", "state", "family", "group",
        "country", "problem", "hand", "part", "place", "case", "week", "company", "system", "program", "question", "work",
        "government", "number", "night", "point", "home", "water", "room", "mother", "area", "money", "story", "fact",
        "month", "lot", "right", "study", "book", "eye", "job", "word", "business", "issue", "side", "kind", "head", "house",
    ];

    public static string[] Make(int count, int tokens, int seed)
    {
        var rng = new Random(seed);
        var prompts = new string[count];
        for (int i = 0; i < count; i++)
        {
            var text = new StringBuilder();
            for (int w = 0; w < tokens; w++)
            {
                if (w > 0)
                {
                    text.Append(' ');
                }
                text.Append(Words[rng.Next(Words.Length)]);
            }
            prompts[i] = text.ToString();
        }
        return prompts;
    }
}
