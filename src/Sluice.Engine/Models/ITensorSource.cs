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
/// A tensor's bytes somewhere in memory that outlives the model (usually a file mapping). Dimensions
/// are in ggml order: [columns, rows] for a matrix. <see cref="FileMapped"/>: the bytes are a read-only
/// mapping of a file, so pages the engine no longer needs can be dropped and are read back on access.
/// </summary>
public readonly unsafe struct TensorView(string name, GgmlType type, long[] dimensions, byte* data, bool fileMapped = false)
{
    public string Name { get; } = name;
    public GgmlType Type { get; } = type;
    public long[] Dimensions { get; } = dimensions;
    public byte* Data { get; } = data;
    public bool FileMapped { get; } = fileMapped;

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
