namespace Sluice.Engine.Kernels;

/// <summary>The 8-bit form llama.cpp gives matmul inputs of quantized weights.</summary>
public enum ActivationFormat
{
    /// <summary>Blocks of 32: int8 values and a half-rounded float scale (for Q8_0 and Q4_0 weights).</summary>
    Q8_0,

    /// <summary>Blocks of 256: int8 values and a float scale (for K-quant weights).</summary>
    Q8_K,
}
