using System.Diagnostics;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Models.Synthesis;

/// <summary>
/// Writes synthetic GGUF models: random weights with the shape, tensor names, metadata and tokenizer of a
/// real llama/qwen2 model, so the whole serving path can run without downloading weights. Rows are generated
/// and quantized in parallel chunks and streamed to disk, so memory stays small for multi-gigabyte models;
/// each row's values depend only on (seed, tensor, row), so the bytes are the same whatever the threading.
/// </summary>
public static class ModelSynthesizer
{
    /// <summary>About this much output is produced per parallel chunk.</summary>
    private const int ChunkBytes = 4 << 20;

    public static ModelPlan Plan(SynthesisOptions options) => ModelPlanner.Plan(options);

    public static SynthesisResult Write(SynthesisOptions options, string path)
    {
        var clock = Stopwatch.StartNew();
        var plan = ModelPlanner.Plan(options);
        var initializer = new WeightInitializer(options.Seed, options.Scaling, options.Shape.Tied);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism ?? Environment.ProcessorCount };
        var writer = new GgufWriter();
        foreach (var (key, value) in plan.Metadata)
        {
            writer.Add(key, value);
        }
        foreach (var tensor in plan.Tensors)
        {
            writer.AddTensor(tensor.Name, tensor.Type, tensor.Dimensions, stream => WriteTensor(stream, tensor, initializer, parallel));
        }
        writer.Write(path);
        return new SynthesisResult(path, plan, new FileInfo(path).Length, clock.Elapsed);
    }

    private static void WriteTensor(Stream stream, PlannedTensor tensor, WeightInitializer initializer, ParallelOptions parallel)
    {
        int columns = checked((int)tensor.Columns);
        int rowBytes = checked((int)GgmlTypeInfo.RowBytes(tensor.Type, columns));
        long rows = tensor.Rows;
        int chunkRows = (int)Math.Clamp(ChunkBytes / rowBytes, 1, rows);
        var chunk = new byte[chunkRows * rowBytes];
        for (long first = 0; first < rows; first += chunkRows)
        {
            int count = (int)Math.Min(chunkRows, rows - first);
            long start = first;
            Parallel.For(0, count, parallel, () => new float[columns], (i, _, values) =>
            {
                initializer.FillRow(tensor, start + i, values);
                Quantizer.Quantize(tensor.Type, values, chunk.AsSpan(i * rowBytes, rowBytes));
                return values;
            }, _ => { });
            stream.Write(chunk, 0, count * rowBytes);
        }
    }
}
