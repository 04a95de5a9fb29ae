using System.Diagnostics;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Formats.SafeTensors;
using Sluice.Engine.Models.HuggingFace.Conversion;

namespace Sluice.Engine.Models.Synthesis;

/// <summary>
/// Writes a synthetic model as a Hugging Face folder: the same weights and vocabulary
/// <see cref="ModelSynthesizer"/> would put in a GGUF (made in a temporary file and converted), so a
/// test can load both forms of one model and compare them.
/// </summary>
public static class HfFolderSynthesizer
{
    public static SynthesisResult Write(SynthesisOptions options, string folder, long? maxShardBytes = null)
    {
        var dtype = options.Mix.BaseType switch
        {
            Quantization.GgmlType.F32 => SafeTensorsDType.F32,
            Quantization.GgmlType.F16 => SafeTensorsDType.F16,
            Quantization.GgmlType.BF16 => SafeTensorsDType.BF16,
            _ => throw new ArgumentException($"a Hugging Face folder holds F32, F16 or BF16 weights, not {options.Mix.Name}"),
        };
        var clock = Stopwatch.StartNew();
        string temp = Path.Combine(Path.GetTempPath(), $"sluice-synth-{Guid.NewGuid():N}.gguf");
        try
        {
            var gguf = ModelSynthesizer.Write(options, temp);
            using var file = GgufFile.Open(temp);
            var files = HfFolderWriter.Write(file, folder, new HfExportOptions
            {
                DType = dtype,
                MaxShardBytes = maxShardBytes,
                MaxDegreeOfParallelism = options.MaxDegreeOfParallelism,
            });
            long bytes = files.Sum(f => new FileInfo(Path.Combine(folder, f)).Length);
            return new SynthesisResult(folder, gguf.Plan, bytes, clock.Elapsed);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
