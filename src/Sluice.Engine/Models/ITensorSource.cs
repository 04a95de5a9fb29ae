using Sluice.Engine.Quantization;

namespace Sluice.Engine.Models;

/// <summary>
/// Where a model's tensors come from (a GGUF file, a Hugging Face folder of safetensors shards, or
/// weights converted at load), named as llama.cpp names them ("blk.0.attn_q.weight").
/// </summary>
public interface ITensorSource
{
    /// <summary>The file or folder, for error messages.</summary>
    string SourcePath { get; }

    bool TryGetTensor(string name, out TensorView tensor);
}

/// <summary>
/// A tensor's bytes somewhere in memory that outlives the model (the model file's bytes, or a
/// conversion's). Dimensions are in ggml order: [columns, rows] for a matrix. <see cref="Releasable"/>:
/// pages of these bytes the engine will never read again (a matrix it repacked) may be handed back to the
/// system; what is then read there is undefined (zeroes for a private copy).
/// </summary>
public readonly unsafe struct TensorView(string name, GgmlType type, long[] dimensions, byte* data, bool releasable = false)
{
    public string Name { get; } = name;
    public GgmlType Type { get; } = type;
    public long[] Dimensions { get; } = dimensions;
    public byte* Data { get; } = data;
    public bool Releasable { get; } = releasable;

    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Dimensions)
            {
                n *= d;
            }
            return n;
        }
    }

    public string ShapeString => "[" + string.Join(", ", Dimensions) + "]";
}
