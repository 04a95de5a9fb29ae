using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Quantization;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Quantization;

/// <summary>
/// The conformance quantized models were made by llama-quantize (no importance matrix) from the F16 models.
/// Expanding each F16 tensor to floats and quantizing it here to the type the quantized file has for it must
/// give that file's bytes exactly; and each file's own data must expand the way ggml expands it.
/// </summary>
public sealed class LlamaQuantizeConformanceTests
{
    [SkippableTheory]
    [InlineData("tiny-llama-f16.gguf", "tiny-llama-q8_0.gguf")]
    [InlineData("tiny-llama-f16.gguf", "tiny-llama-q4_0.gguf")]
    [InlineData("tiny-llama-f16.gguf", "tiny-llama-q4_k_m.gguf")]
    [InlineData("tiny-qwen2-f16.gguf", "tiny-qwen2-q8_0.gguf")]
    public void Quantizing_the_f16_model_reproduces_llama_quantize_byte_for_byte(string f16File, string quantizedFile)
    {
        using var source = GgufFile.Open(Conformance.Model(f16File));
        using var quantized = GgufFile.Open(Conformance.Model(quantizedFile));
        Assert.Equal(source.Tensors.Count, quantized.Tensors.Count);
        foreach (var target in quantized.Tensors)
        {
            var original = source.GetTensor(target.Name);
            Assert.Equal(original.Dimensions, target.Dimensions);
            var mismatch = FirstMismatchingRow(source, original, quantized, target);
            Assert.True(mismatch < 0, $"{quantizedFile}: {target.Name} ({GgmlTypeInfo.Name(target.Type)}) differs from llama-quantize at row {mismatch}");
        }
    }

    [SkippableTheory]
    [InlineData("tiny-llama-q8_0.gguf")]
    [InlineData("tiny-llama-q4_0.gguf")]
    [InlineData("tiny-llama-q4_k_m.gguf")]
    public void Dequantizing_then_requantizing_a_quantized_file_gives_its_bytes_back(string quantizedFile)
    {
        // Holds for ggml's quantizers on their own output only when the expanded values lie exactly on the
        // grid, which Q8_0 and Q4_0 guarantee; the K-quant scale searches can pick a different grid, so for
        // those the check is that the expansion is finite and bounded by the stored scales.
        using var file = GgufFile.Open(Conformance.Model(quantizedFile));
        foreach (var t in file.Tensors.Where(t => t.Type is GgmlType.Q8_0 or GgmlType.Q4_0))
        {
            var bytes = file.TensorBytes(t);
            var values = new float[t.ElementCount];
            Quantizer.Dequantize(t.Type, bytes, values);
            var again = new byte[bytes.Length];
            Quantizer.Quantize(t.Type, values, again);
            Assert.True(bytes.SequenceEqual(again), $"{t.Name} ({t.Type}) did not survive dequantize → quantize");
        }
    }

    [SkippableFact]
    public void K_quant_tensors_expand_close_to_the_f16_weights_they_came_from()
    {
        using var source = GgufFile.Open(Conformance.Model("tiny-llama-f16.gguf"));
        using var quantized = GgufFile.Open(Conformance.Model("tiny-llama-q4_k_m.gguf"));
        foreach (var t in quantized.Tensors.Where(t => t.Type is GgmlType.Q4_K or GgmlType.Q6_K))
        {
            var original = source.GetTensor(t.Name);
            var reference = new float[original.ElementCount];
            Quantizer.Dequantize(GgmlType.F16, source.TensorBytes(original), reference);
            var expanded = new float[t.ElementCount];
            Quantizer.Dequantize(t.Type, quantized.TensorBytes(t), expanded);
            double relative = RoundTripErrorTests.RelativeRmsError(reference, expanded);
            Assert.True(relative < (t.Type == GgmlType.Q6_K ? 0.02 : 0.1), $"{t.Name}: relative RMS error {relative:F4}");
        }
    }

    /// <summary>Index of the first row whose requantized bytes differ from the target file, or -1.</summary>
    private static long FirstMismatchingRow(GgufFile source, GgufTensorInfo original, GgufFile quantized, GgufTensorInfo target)
    {
        int columns = (int)original.Columns;
        int sourceRowBytes = (int)GgmlTypeInfo.RowBytes(original.Type, columns);
        int targetRowBytes = (int)GgmlTypeInfo.RowBytes(target.Type, columns);
        long firstBad = long.MaxValue;
        var gate = new object();
        Parallel.For(0, (int)original.Rows, () => (Values: new float[columns], Bytes: new byte[targetRowBytes]), (row, _, buffers) =>
        {
            Quantizer.Dequantize(original.Type, source.TensorBytes(original).Slice(row * sourceRowBytes, sourceRowBytes), buffers.Values);
            Quantizer.Quantize(target.Type, buffers.Values, buffers.Bytes);
            if (!quantized.TensorBytes(target).Slice(row * targetRowBytes, targetRowBytes).SequenceEqual(buffers.Bytes))
            {
                lock (gate)
                {
                    firstBad = Math.Min(firstBad, row);
                }
            }
            return buffers;
        }, _ => { });
        return firstBad == long.MaxValue ? -1 : firstBad;
    }
}
