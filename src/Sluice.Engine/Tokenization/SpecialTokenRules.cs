using System.Text;

namespace Sluice.Engine.Tokenization;

/// <summary>
/// llama.cpp's text-based special-token fixups: it finds end-of-turn, FIM and end-of-generation
/// tokens by their spelling, forces them to control type (so a vocabulary's plain <c>&lt;/s&gt;</c>
/// becomes unsplittable and renders empty), and builds the end-of-generation set from them plus
/// EOS/EOT/EOM. Where llama.cpp takes "the first match" in hash order, the first text in the list
/// below that the vocabulary has is taken, which names the same token for the common vocabularies.
/// </summary>
internal static class SpecialTokenRules
{
    private static readonly string[] EotTexts =
        ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<end_of_utterance>"];

    private static readonly string[] EomTexts = ["<|eom_id|>"];
    private static readonly string[] FimPreTexts = ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>", "<|code_prefix|>", "<|prefix|>", "<｜fim▁begin｜>"];
    private static readonly string[] FimSufTexts = ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<SUF>", "<|code_suffix|>", "<|suffix|>", "<｜fim▁hole｜>"];
    private static readonly string[] FimMidTexts = ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<MID>", "<|code_middle|>", "<|middle|>", "<｜fim▁end｜>"];
    private static readonly string[] FimPadTexts = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
    private static readonly string[] FimRepTexts = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"];
    private static readonly string[] FimSepTexts = ["<|file_sep|>"];

    private static readonly string[] EogTexts =
    [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    ];

    /// <summary>gpt-oss formatting tokens that llama.cpp always renders, so it makes them user-defined.</summary>
    private static readonly string[] AlwaysRendered = ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"];

    public static void Apply(VocabularyData d)
    {
        var s = d.Special;
        Detect(d, ref s.Eot, EotTexts);
        Detect(d, ref s.Eom, EomTexts);
        Detect(d, ref s.FimPre, FimPreTexts);
        Detect(d, ref s.FimSuf, FimSufTexts);
        Detect(d, ref s.FimMid, FimMidTexts);
        Detect(d, ref s.FimPad, FimPadTexts);
        Detect(d, ref s.FimRep, FimRepTexts);
        Detect(d, ref s.FimSep, FimSepTexts);

        var eog = new SortedSet<int>();
        AddIfSet(eog, s.FimPad);
        AddIfSet(eog, s.FimRep);
        AddIfSet(eog, s.FimSep);
        foreach (var text in EogTexts)
        {
            if (d.Ids.TryGetValue(text, out int id))
            {
                eog.Add(id);
                d.Attributes[id] |= TokenAttributes.Control;
            }
        }
        foreach (var text in AlwaysRendered)
        {
            if (d.Ids.TryGetValue(text, out int id))
            {
                d.Attributes[id] = TokenAttributes.UserDefined;
            }
        }
        AddIfSet(eog, s.Eos);
        AddIfSet(eog, s.Eot);
        AddIfSet(eog, s.Eom);
        DropConflictingEnds(d, eog);
        d.EndOfGeneration = [.. eog];

        ApplyStripRules(d);
        d.SpecialTokens = CollectSpecialTokens(d);
    }

    private static void Detect(VocabularyData d, ref int slot, string[] texts)
    {
        if (slot >= 0)
        {
            return;
        }
        foreach (var text in texts)
        {
            if (d.Ids.TryGetValue(text, out int id))
            {
                slot = id;
                d.Attributes[id] |= TokenAttributes.Control;
                return;
            }
        }
    }

    private static void AddIfSet(SortedSet<int> set, int id)
    {
        if (id >= 0)
        {
            set.Add(id);
        }
    }

    /// <summary>
    /// Harmony/solar-open vocabularies end turns with other tokens, so their <c>&lt;|end|&gt;</c> is not
    /// an end; Gemma-4 style vocabularies use <c>&lt;/s&gt;</c> as text. llama.cpp undoes both here.
    /// </summary>
    private static void DropConflictingEnds(VocabularyData d, SortedSet<int> eog)
    {
        bool Has(string text, out int id) => d.Ids.TryGetValue(text, out id) && eog.Contains(id);

        bool hasCall = Has("<|call|>", out _) || Has("<|calls|>", out _);
        if (Has("<|end|>", out int end) && hasCall && (Has("<|return|>", out _) || Has("<|flush|>", out _)))
        {
            eog.Remove(end);
            d.Attributes[end] = TokenAttributes.UserDefined;
        }
        if (Has("<|tool_response>", out _) && Has("</s>", out int s))
        {
            eog.Remove(s);
            d.Attributes[s] = TokenAttributes.Normal;
        }
    }

    /// <summary>Name-based strip flags llama.cpp sets for Phi-3 and Jina v2 vocabularies.</summary>
    private static void ApplyStripRules(VocabularyData d)
    {
        string name = (d.ModelName ?? "").ToLowerInvariant();
        if (d.PreTokenizerName.Contains("jina-v2-de", StringComparison.Ordinal) || d.PreTokenizerName.Contains("jina-v2-es", StringComparison.Ordinal)
            || d.PreTokenizerName.Contains("jina-v2-code", StringComparison.Ordinal))
        {
            SetFlag(d, "<mask>", TokenAttributes.LStrip, true);
        }
        else if (name.Contains("phi-3", StringComparison.Ordinal) || name.Contains("phi3", StringComparison.Ordinal))
        {
            for (int id = 0; id < d.Attributes.Length; id++)
            {
                if ((d.Attributes[id] & (TokenAttributes.Control | TokenAttributes.UserDefined | TokenAttributes.Unknown)) != 0)
                {
                    d.Attributes[id] |= TokenAttributes.RStrip;
                }
            }
            SetFlag(d, "</s>", TokenAttributes.RStrip, true);
            SetFlag(d, "<unk>", TokenAttributes.RStrip, false);
            SetFlag(d, "<s>", TokenAttributes.RStrip, false);
            SetFlag(d, "<|endoftext|>", TokenAttributes.RStrip, false);
        }
    }

    private static void SetFlag(VocabularyData d, string text, TokenAttributes flag, bool on)
    {
        if (d.Ids.TryGetValue(text, out int id))
        {
            d.Attributes[id] = on ? d.Attributes[id] | flag : d.Attributes[id] & ~flag;
        }
    }

    private static int[] CollectSpecialTokens(VocabularyData d)
    {
        var ids = new List<int>();
        for (int id = 0; id < d.Attributes.Length; id++)
        {
            if ((d.Attributes[id] & (TokenAttributes.Control | TokenAttributes.UserDefined | TokenAttributes.Unknown)) != 0)
            {
                ids.Add(id);
            }
        }
        // Longest (in UTF-8 bytes) first so that e.g. "<|im_start|>" wins over any shorter token inside it.
        return [.. ids.OrderByDescending(id => Encoding.UTF8.GetByteCount(d.Texts[id])).ThenBy(id => id)];
    }
}
