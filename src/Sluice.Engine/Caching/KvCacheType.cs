namespace Sluice.Engine.Caching;

/// <summary>Element type of the KV cache.</summary>
public enum KvCacheType
{
    F16,
    F32,

    /// <summary>8-bit blocks of 32 with a half scale (34 bytes per 32 values), as llama.cpp's q8_0 cache; head dim must be a multiple of 32.</summary>
    Q8_0,
}
