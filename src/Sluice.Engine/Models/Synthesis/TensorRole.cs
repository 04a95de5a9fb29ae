namespace Sluice.Engine.Models.Synthesis;

/// <summary>What a tensor of a llama/qwen2 model does; decides its name, shape, initial values and type.</summary>
public enum TensorRole
{
    TokenEmbedding,
    AttentionNorm,
    AttentionQ,
    AttentionK,
    AttentionV,
    AttentionQBias,
    AttentionKBias,
    AttentionVBias,
    AttentionOutput,
    FeedForwardNorm,
    FeedForwardGate,
    FeedForwardUp,
    FeedForwardDown,
    OutputNorm,
    Output,
}
