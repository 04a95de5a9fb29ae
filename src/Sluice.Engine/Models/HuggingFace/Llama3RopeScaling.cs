namespace Sluice.Engine.Models.HuggingFace;

/// <summary>
/// Llama 3.1's "llama3" RoPE scaling as per-pair frequency divisors, computed as llama.cpp's converter
/// computes its <c>rope_freqs.weight</c> (in float32): pairs whose wavelength is below
/// original_context/high_freq_factor keep their frequency, those above original_context/low_freq_factor
/// are divided by <c>factor</c>, and those between are interpolated smoothly.
/// </summary>
public static class Llama3RopeScaling
{
    public static float[] FrequencyFactors(int headDim, float ropeTheta, float factor, float lowFreqFactor, float highFreqFactor, float originalContext)
    {
        float lowFreqWavelength = originalContext / lowFreqFactor;
        float highFreqWavelength = originalContext / highFreqFactor;
        var factors = new float[headDim / 2];
        for (int i = 0; i < factors.Length; i++)
        {
            float frequency = 1f / MathF.Pow(ropeTheta, 2f * i / headDim);
            float wavelength = 2f * MathF.PI / frequency;
            if (wavelength < highFreqWavelength)
            {
                factors[i] = 1f;
            }
            else if (wavelength > lowFreqWavelength)
            {
                factors[i] = factor;
            }
            else
            {
                float smooth = (originalContext / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                factors[i] = 1f / ((1f - smooth) / factor + smooth);
            }
        }
        return factors;
    }
}
