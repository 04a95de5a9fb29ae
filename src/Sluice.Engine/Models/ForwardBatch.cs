namespace Sluice.Engine.Models;

/// <summary>
/// One ragged batch: tokens of any number of sequences, each with its position and its sequence's
/// KV block table, plus which tokens need logits (the last prompt token of a prefill, every decode) and which need their final
/// hidden state (an embedding's prompt tokens).
/// Arrays are reused between steps; only the first <see cref="Count"/> entries are meaningful.
/// </summary>
public sealed class ForwardBatch
{
    public ForwardBatch(int capacity)
    {
        Tokens = new int[capacity];
        Positions = new int[capacity];
        BlockTables = new int[capacity][];
        LogitTokens = new int[capacity];
        HiddenTokens = new int[capacity];
    }

    public int Capacity => Tokens.Length;
    public int Count { get; private set; }
    public int LogitCount { get; private set; }
    public int HiddenCount { get; private set; }

    // (Count,)
    public int[] Tokens { get; }
    public int[] Positions { get; }
    public int[][] BlockTables { get; }

    // (LogitCount,) indices into the batch of the tokens whose logits are wanted, in output order
    public int[] LogitTokens { get; }

    // (HiddenCount,) indices into the batch of the tokens whose final hidden state (after the final norm) is wanted
    public int[] HiddenTokens { get; }

    public void Clear()
    {
        Count = 0;
        LogitCount = 0;
        HiddenCount = 0;
    }

    /// <summary>Adds a token; returns its index in the batch.</summary>
    public int Add(int token, int position, int[] blockTable, bool wantLogits, bool wantHidden = false)
    {
        if (Count == Capacity)
        {
            throw new InvalidOperationException($"batch is full ({Capacity} tokens)");
        }
        Tokens[Count] = token;
        Positions[Count] = position;
        BlockTables[Count] = blockTable;
        if (wantLogits)
        {
            LogitTokens[LogitCount++] = Count;
        }
        if (wantHidden)
        {
            HiddenTokens[HiddenCount++] = Count;
        }
        return Count++;
    }
}
