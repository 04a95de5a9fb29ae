namespace Sluice.Engine.Models.HuggingFace;

/// <summary>
/// The row order of q/k projections. Hugging Face llama checkpoints rotate each head's halves
/// (x[i], x[i + d/2]) ("rotate_half", NeoX pairing); llama.cpp's converter reorders every head's rows
/// so that adjacent rows (2i, 2i+1) form the pairs instead, which its "normal" RoPE rotates. Loading a
/// checkpoint unpermuted with NeoX RoPE is the same computation; this permutation is only needed to
/// move weights between the two layouts (writing a GGUF from a folder, or a folder from a GGUF).
/// </summary>
public static class RotaryPermutation
{
    /// <summary>
    /// The checkpoint row that becomes GGUF row <paramref name="ggufRow"/> of a q or k matrix with
    /// heads of <paramref name="headDim"/> rows: within a head, GGUF row 2i + j is checkpoint row j·d/2 + i.
    /// </summary>
    public static int HfRowForGgufRow(int ggufRow, int headDim)
    {
        int half = headDim / 2;
        int head = ggufRow / headDim;
        int within = ggufRow % headDim;
        return head * headDim + (within % 2) * half + within / 2;
    }

    /// <summary>The GGUF row that checkpoint row <paramref name="hfRow"/> becomes (the inverse of <see cref="HfRowForGgufRow"/>).</summary>
    public static int GgufRowForHfRow(int hfRow, int headDim)
    {
        int half = headDim / 2;
        int head = hfRow / headDim;
        int within = hfRow % headDim;
        return head * headDim + 2 * (within % half) + within / half;
    }

    /// <summary>True for the GGUF tensors whose rows llama.cpp's converter permutes (llama q and k, weights and biases).</summary>
    public static bool AppliesTo(string architecture, string ggufName) =>
        architecture == "llama" && HfTensorNames.LayerOf(ggufName) >= 0
        && (ggufName.EndsWith(".attn_q.weight", StringComparison.Ordinal) || ggufName.EndsWith(".attn_k.weight", StringComparison.Ordinal)
            || ggufName.EndsWith(".attn_q.bias", StringComparison.Ordinal) || ggufName.EndsWith(".attn_k.bias", StringComparison.Ordinal));
}
