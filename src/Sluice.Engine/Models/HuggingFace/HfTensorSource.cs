using Sluice.Engine.Formats;
using Sluice.Engine.Formats.SafeTensors;
using Sluice.Engine.Quantization;

namespace Sluice.Engine.Models.HuggingFace;

/// <summary>
/// A safetensors checkpoint seen under llama.cpp's tensor names, so <see cref="ModelWeights"/> binds
/// it as it binds a GGUF file. Data points into the shard mappings (a checkpoint's [out, in] matrix is
/// ggml's [in, out]: the same bytes), so nothing is copied. The only owned tensor is
/// <c>rope_freqs.weight</c>, made from config.json's llama3 RoPE scaling.
/// </summary>
public sealed unsafe class HfTensorSource : ITensorSource, IDisposable
{
    private const string RopeFreqsName = "rope_freqs.weight";

    private readonly SafeTensorsCheckpoint _checkpoint;
    private readonly HfConfig _config;
    private readonly int _ropeFactorCount;
    private float* _ropeFactors;

    public HfTensorSource(SafeTensorsCheckpoint checkpoint, HfConfig config)
    {
        _checkpoint = checkpoint;
        _config = config;
        if (config.RopeFrequencyFactors is { } factors)
        {
            _ropeFactorCount = factors.Length;
            _ropeFactors = (float*)Memory.NativeAllocator.Allocate((nuint)factors.Length * sizeof(float), 64, zero: false);
            factors.CopyTo(new Span<float>(_ropeFactors, factors.Length));
        }
    }

    public string SourcePath => _checkpoint.IndexPath ?? _checkpoint.Shards[0].FilePath;

    public bool TryGetTensor(string name, out TensorView tensor)
    {
        tensor = default;
        if (name == RopeFreqsName)
        {
            if (_ropeFactors == null)
            {
                return false;
            }
            tensor = new TensorView(name, GgmlType.F32, [_ropeFactorCount], (byte*)_ropeFactors);
            return true;
        }
        if (name == "output.weight" && _config.TieWordEmbeddings)
        {
            return false; // a tied checkpoint may still carry lm_head.weight; transformers ignores it, and so does this
        }
        string? hfName = HfTensorNames.ToHuggingFace(name);
        if (hfName == null || !_checkpoint.TryGetTensor(hfName, out var file, out var info))
        {
            return false;
        }
        if (!SafeTensorsDTypes.TryToGgml(info.DType, out var type))
        {
            throw new ModelFormatException(file.FilePath, $"tensor '{hfName}' has dtype {info.DType}; only F32, F16 and BF16 are supported");
        }
        var dims = new long[info.Shape.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            dims[i] = info.Shape[^(i + 1)];
        }
        // safetensors files are mapped read-only: pages of a repacked matrix can be handed back
        tensor = new TensorView(name, type, dims, file.TensorData(info), releasable: true);
        return true;
    }

    public void Dispose()
    {
        if (_ropeFactors != null)
        {
            Memory.NativeAllocator.Free(_ropeFactors);
            _ropeFactors = null;
        }
    }
}
