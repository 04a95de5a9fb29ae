namespace Sluice.Engine.Models.Synthesis.Vocabulary;

/// <summary>
/// Recovers a BPE merge list from tiktoken ranks, the way llama.cpp's converter does for tiktoken models:
/// for each token of two or more bytes, run BPE on its bytes using only merges of lower rank than the
/// token itself; what remains are the two tokens whose merge makes it. Applying merges in rank order then
/// reproduces tiktoken's encoding. A token that does not reduce to exactly two parts gets no merge.
/// </summary>
public static class TiktokenMerges
{
    /// <summary>The merge that forms each token, as "left right" in byte-level unicode, in rank order.</summary>
    public static List<string> Derive(byte[][] ranks, char[] byteTable, out int tokensWithoutMerge)
    {
        // Latin-1 strings are cheap dictionary keys for byte sequences.
        var rankOf = new Dictionary<string, int>(ranks.Length, StringComparer.Ordinal);
        for (int r = 0; r < ranks.Length; r++)
        {
            rankOf[Latin1(ranks[r])] = r;
        }
        var merges = new List<string>(ranks.Length);
        tokensWithoutMerge = 0;
        var parts = new List<string>();
        for (int r = 0; r < ranks.Length; r++)
        {
            if (ranks[r].Length < 2)
            {
                continue;
            }
            parts.Clear();
            foreach (var b in ranks[r])
            {
                parts.Add(((char)b).ToString());
            }
            MergeBelow(parts, rankOf, r);
            if (parts.Count != 2)
            {
                tokensWithoutMerge++;
                continue;
            }
            merges.Add(Spell(parts[0], byteTable) + " " + Spell(parts[1], byteTable));
        }
        return merges;
    }

    private static void MergeBelow(List<string> parts, Dictionary<string, int> rankOf, int maxRank)
    {
        while (parts.Count > 1)
        {
            int best = -1;
            int bestRank = maxRank;
            for (int i = 0; i + 1 < parts.Count; i++)
            {
                if (rankOf.TryGetValue(parts[i] + parts[i + 1], out int rank) && rank < bestRank)
                {
                    best = i;
                    bestRank = rank;
                }
            }
            if (best < 0)
            {
                return;
            }
            parts[best] += parts[best + 1];
            parts.RemoveAt(best + 1);
        }
    }

    private static string Latin1(byte[] bytes) => string.Create(bytes.Length, bytes, static (dst, b) =>
    {
        for (int i = 0; i < dst.Length; i++)
        {
            dst[i] = (char)b[i];
        }
    });

    private static string Spell(string latin1, char[] byteTable) => string.Create(latin1.Length, (latin1, byteTable), static (dst, s) =>
    {
        for (int i = 0; i < dst.Length; i++)
        {
            dst[i] = s.byteTable[s.latin1[i]];
        }
    });
}
