namespace Sluice.Engine.Tokenization;

/// <summary>Special token ids while a vocabulary is being resolved; -1 = none.</summary>
internal sealed class SpecialIds
{
    public int Bos = -1;
    public int Eos = -1;
    public int Eot = -1;
    public int Eom = -1;
    public int Unk = -1;
    public int Sep = -1;
    public int Pad = -1;
    public int Mask = -1;
    public int FimPre = -1;
    public int FimSuf = -1;
    public int FimMid = -1;
    public int FimPad = -1;
    public int FimRep = -1;
    public int FimSep = -1;
}

/// <summary>The mutable state a <see cref="Vocabulary"/> is built from; only loading code touches it.</summary>
internal sealed class VocabularyData
{
    public required TokenizerKind Kind;
    public required string PreTokenizerName;
    public required string[] Texts;
    public required float[] Scores;
    public required TokenAttributes[] Attributes;
    public required Dictionary<string, int> Ids;
    public PreTokenizerKind PreTokenizer = PreTokenizerKind.Gpt2;
    public string[] Merges = [];
    public SpecialIds Special = new();
    public bool AddBos;
    public bool AddEos;
    public bool AddSpacePrefix;
    public bool IgnoreMerges;
    public string? ModelName;
    public string? ChatTemplate;
    public int[] EndOfGeneration = [];
    public int[] SpecialTokens = [];
}
