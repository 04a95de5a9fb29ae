using Sluice.Engine.Formats.SafeTensors;

namespace Sluice.Engine.Models.HuggingFace.Conversion;

/// <summary>How <see cref="HfFolderWriter"/> writes a folder.</summary>
public sealed record HfExportOptions
{
    /// <summary>Element type of the matrices (F32, F16 or BF16); quantized GGUF weights are dequantized to it.</summary>
    public SafeTensorsDType DType { get; init; } = SafeTensorsDType.F16;

    /// <summary>Vectors (norms, biases) stay F32, as llama.cpp's converter keeps them, so nothing is rounded twice.</summary>
    public bool VectorsAsF32 { get; init; } = true;

    /// <summary>Split the checkpoint into shards of at most this many bytes (with an index file); null writes one file.</summary>
    public long? MaxShardBytes { get; init; }

    /// <summary>Threads converting rows; null uses all cores.</summary>
    public int? MaxDegreeOfParallelism { get; init; }
}
