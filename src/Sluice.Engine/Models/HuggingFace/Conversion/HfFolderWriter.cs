using Sluice.Engine.Formats;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Formats.SafeTensors;
using Sluice.Engine.Quantization;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Models.HuggingFace.Conversion;

/// <summary>
/// Writes a GGUF model as a Hugging Face folder: config.json, generation_config.json, tokenizer.json,
/// tokenizer_config.json and safetensors (one file or shards with an index). Tensors get checkpoint
/// names and llama's q/k rows are put back in Hugging Face's rotate-half order (the inverse of the
/// permutation llama.cpp's converter applies), so the folder is what a converter would have started from.
/// </summary>
public static class HfFolderWriter
{
    /// <summary>About this much output is produced per parallel chunk.</summary>
    private const int ChunkBytes = 4 << 20;

    public static IReadOnlyList<string> Write(GgufFile gguf, string folder, HfExportOptions options)
    {
        var config = ModelConfig.FromGguf(gguf);
        if (gguf.TryGetTensor("rope_freqs.weight", out _))
        {
            throw new ModelFormatException(gguf.FilePath, "rope_freqs.weight (llama3 RoPE scaling) cannot be written back as config.json rope_scaling");
        }
        Directory.CreateDirectory(folder);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism ?? Environment.ProcessorCount };
        var checkpoint = new SafeTensorsCheckpointWriter();
        foreach (var tensor in gguf.Tensors)
        {
            string hfName = HfTensorNames.ToHuggingFace(tensor.Name)
                ?? throw new ModelFormatException(gguf.FilePath, $"tensor '{tensor.Name}' has no Hugging Face checkpoint name");
            var dtype = tensor.Dimensions.Length == 1 && options.VectorsAsF32 ? SafeTensorsDType.F32 : options.DType;
            long[] shape = [.. tensor.Dimensions.Reverse()];
            bool permute = RotaryPermutation.AppliesTo(config.Architecture, tensor.Name);
            checkpoint.Add(hfName, dtype, shape, stream => WriteTensor(stream, gguf, tensor, dtype, permute ? config.HeadDim : 0, parallel));
        }
        var files = new List<string>(checkpoint.Write(folder, options.MaxShardBytes));
        var vocab = Vocabulary.FromGguf(gguf);
        HfConfigWriter.Write(folder, config, !gguf.TryGetTensor("output.weight", out _), options.DType, vocab);
        HfTokenizerJsonWriter.Write(gguf, folder, config.ContextLength);
        files.AddRange([HfConfig.FileName, GenerationDefaults.FileName, HfTokenizerJsonReader.FileName, HfTokenizerConfig.FileName]);
        return files;
    }

    /// <summary>
    /// Streams a tensor row by row (a vector is rows of one element), re-encoded as <paramref name="dtype"/>;
    /// with <paramref name="permuteHeadDim"/> set, checkpoint row r is read from the GGUF row it became.
    /// </summary>
    private static unsafe void WriteTensor(Stream stream, GgufFile gguf, GgufTensorInfo tensor, SafeTensorsDType dtype, int permuteHeadDim, ParallelOptions parallel)
    {
        bool vector = tensor.Dimensions.Length == 1;
        long columns = vector ? 1 : tensor.Columns;
        long rows = vector ? tensor.Dimensions[0] : tensor.Rows;
        if (vector && GgmlTypeInfo.IsQuantized(tensor.Type))
        {
            throw new ModelFormatException(gguf.FilePath, $"tensor '{tensor.Name}': quantized vectors are not supported");
        }
        var srcType = tensor.Type;
        long srcRowBytes = GgmlTypeInfo.RowBytes(srcType, columns);
        var dstType = dtype switch { SafeTensorsDType.F32 => GgmlType.F32, SafeTensorsDType.BF16 => GgmlType.BF16, _ => GgmlType.F16 };
        int dstRowBytes = checked((int)GgmlTypeInfo.RowBytes(dstType, columns));
        byte* data = gguf.TensorData(tensor);
        int chunkRows = (int)Math.Clamp(ChunkBytes / dstRowBytes, 1, Math.Max(rows, 1));
        var chunk = new byte[chunkRows * dstRowBytes];
        for (long first = 0; first < rows; first += chunkRows)
        {
            int count = (int)Math.Min(chunkRows, rows - first);
            long start = first;
            Parallel.For(0, count, parallel, () => new float[columns], (i, _, values) =>
            {
                long row = start + i;
                long source = permuteHeadDim > 0 ? RotaryPermutation.GgufRowForHfRow((int)row, permuteHeadDim) : row;
                Quantizer.Dequantize(srcType, new ReadOnlySpan<byte>(data + source * srcRowBytes, (int)srcRowBytes), values);
                Quantizer.Quantize(dstType, values, chunk.AsSpan(i * dstRowBytes, dstRowBytes));
                return values;
            }, _ => { });
            stream.Write(chunk, 0, count * dstRowBytes);
        }
    }
}
