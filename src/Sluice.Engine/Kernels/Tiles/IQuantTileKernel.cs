namespace Sluice.Engine.Kernels.Tiles;

/// <summary>
/// A quantized matmul micro-kernel computing a tile of weight rows x activation rows at once, so each
/// weight block is loaded and decoded once for several tokens and each token block once for several
/// rows. Every variant performs exactly the same operations per (row, token) pair, in the same order,
/// so a token's result does not depend on which tile or batch it was computed in (batch invariance).
/// </summary>
internal unsafe interface IQuantTileKernel
{
    /// <summary>Weight rows per full tile.</summary>
    static abstract int TileRows { get; }

    /// <summary>Tokens per full tile.</summary>
    static abstract int TileTokens { get; }

    /// <summary>y[(t + j) * ys + r + i] for i below TileRows, j below TileTokens.</summary>
    static abstract void TileFull(WeightMatrix w, int r, QuantizedActivations a, int t, float* y, int ys);

    /// <summary>y[t * ys + r + i] for i below TileRows.</summary>
    static abstract void TileRowsX1(WeightMatrix w, int r, QuantizedActivations a, int t, float* y, int ys);

    /// <summary>y[t * ys + r].</summary>
    static abstract void Tile1x1(WeightMatrix w, int r, QuantizedActivations a, int t, float* y, int ys);
}
