using Sluice.Engine.Formats;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Formats.SafeTensors;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Quantization;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Models.HuggingFace.Conversion;

/// <summary>
/// Writes a Hugging Face folder as a GGUF file llama.cpp can load: its metadata keys, tensor names,
/// llama's q/k rows permuted for adjacent-pair RoPE, the vocabulary as <c>tokenizer.ggml.*</c>, and
/// matrices in the types a <see cref="WeightMix"/> picks (quantized bit-exactly as llama-quantize would).
/// </summary>
public static class GgufConverter
{
    private const int ChunkBytes = 4 << 20;

    public sealed record Result(string Path, long FileBytes, int TensorCount, string TypeSummary, TimeSpan Elapsed);

    public static Result Convert(string folder, string output, WeightMix mix, int? maxDegreeOfParallelism = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var hf = HfConfigReader.Read(Path.Combine(folder, HfConfig.FileName));
        var c = hf.Model;
        using var checkpoint = SafeTensorsCheckpoint.Open(folder);
        using var source = new HfTensorSource(checkpoint, hf);
        var generation = GenerationDefaults.Read(folder);
        var vocab = Vocabulary.FromHuggingFace(folder, new HfTokenizerOptions
        {
            VocabSize = c.VocabSize,
            ModelName = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))),
            FallbackBosId = hf.BosTokenId ?? generation?.BosTokenId,
            FallbackEosIds = hf.EosTokenIds.Count > 0 ? hf.EosTokenIds : generation?.EosTokenIds ?? [],
        });
        var writer = new GgufWriter();
        AddModelMetadata(writer, folder, c, mix);
        GgufTokenizerMetadata.Add(writer, vocab);
        bool tied = !source.TryGetTensor("output.weight", out _);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism ?? Environment.ProcessorCount };
        var types = new List<GgmlType>();
        foreach (var name in HfTensorNames.GgufOrder(c.BlockCount))
        {
            if (!source.TryGetTensor(name, out var tensor))
            {
                continue;
            }
            bool vector = tensor.Dimensions.Length == 1;
            var type = vector ? GgmlType.F32
                : mix.TypeFor(HfTensorNames.RoleOf(name) ?? TensorRole.Output, HfTensorNames.LayerOf(name), c.BlockCount, tensor.Dimensions[0], tied, false);
            bool permute = RotaryPermutation.AppliesTo(c.Architecture, name);
            types.Add(type);
            writer.AddTensor(name, type, tensor.Dimensions, stream => WriteTensor(stream, source.SourcePath, tensor, type, permute ? c.HeadDim : 0, parallel));
        }
        writer.Write(output);
        string summary = string.Join(", ", types.GroupBy(t => t).Select(g => $"{GgmlTypeInfo.Name(g.Key)} x{g.Count()}"));
        return new Result(output, new FileInfo(output).Length, types.Count, summary, clock.Elapsed);
    }

    private static void AddModelMetadata(GgufWriter writer, string folder, ModelConfig c, WeightMix mix)
    {
        string arch = c.Architecture;
        writer.Add("general.architecture", arch)
            .Add("general.type", "model")
            .Add("general.name", Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))))
            .Add("general.file_type", (uint)mix.FileType)
            .Add("general.quantization_version", 2u)
            .Add($"{arch}.block_count", (uint)c.BlockCount)
            .Add($"{arch}.context_length", (uint)c.ContextLength)
            .Add($"{arch}.embedding_length", (uint)c.EmbeddingLength)
            .Add($"{arch}.feed_forward_length", (uint)c.FeedForwardLength)
            .Add($"{arch}.attention.head_count", (uint)c.HeadCount)
            .Add($"{arch}.attention.head_count_kv", (uint)c.HeadCountKv)
            .Add($"{arch}.rope.freq_base", c.RopeFreqBase)
            .Add($"{arch}.attention.layer_norm_rms_epsilon", c.RmsNormEps)
            .Add($"{arch}.vocab_size", (uint)c.VocabSize);
        if (c.HeadDim != c.EmbeddingLength / c.HeadCount)
        {
            writer.Add($"{arch}.attention.key_length", (uint)c.HeadDim).Add($"{arch}.attention.value_length", (uint)c.HeadDim);
        }
        if (arch == "llama")
        {
            writer.Add($"{arch}.rope.dimension_count", (uint)c.HeadDim);
        }
        if (c.RopeScale != 1f)
        {
            writer.Add($"{arch}.rope.scaling.type", "linear").Add($"{arch}.rope.scaling.factor", c.RopeScale);
        }
    }

    /// <summary>Streams a tensor in <paramref name="type"/>; with <paramref name="permuteHeadDim"/> set, GGUF row g comes from checkpoint row HfRowForGgufRow(g).</summary>
    private static unsafe void WriteTensor(Stream stream, string sourcePath, TensorView tensor, GgmlType type, int permuteHeadDim, ParallelOptions parallel)
    {
        bool vector = tensor.Dimensions.Length == 1;
        long columns = vector ? 1 : tensor.Dimensions[0];
        long rows = vector ? tensor.Dimensions[0] : tensor.Dimensions[1];
        long srcRowBytes = GgmlTypeInfo.RowBytes(tensor.Type, columns);
        int dstRowBytes = checked((int)GgmlTypeInfo.RowBytes(type, columns));
        if (srcRowBytes < 0 || dstRowBytes < 0)
        {
            throw new ModelFormatException(sourcePath, $"tensor '{tensor.Name}': cannot convert rows of {columns} values to {GgmlTypeInfo.Name(type)}");
        }
        byte* data = tensor.Data;
        var srcType = tensor.Type;
        int chunkRows = (int)Math.Clamp(ChunkBytes / dstRowBytes, 1, Math.Max(rows, 1));
        var chunk = new byte[chunkRows * dstRowBytes];
        for (long first = 0; first < rows; first += chunkRows)
        {
            int count = (int)Math.Min(chunkRows, rows - first);
            long start = first;
            Parallel.For(0, count, parallel, () => new float[columns], (i, _, values) =>
            {
                long row = start + i;
                long source = permuteHeadDim > 0 ? RotaryPermutation.HfRowForGgufRow((int)row, permuteHeadDim) : row;
                Quantizer.Dequantize(srcType, new ReadOnlySpan<byte>(data + source * srcRowBytes, (int)srcRowBytes), values);
                Quantizer.Quantize(type, values, chunk.AsSpan(i * dstRowBytes, dstRowBytes));
                return values;
            }, _ => { });
            stream.Write(chunk, 0, count * dstRowBytes);
        }
    }
}
