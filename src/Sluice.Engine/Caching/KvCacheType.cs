namespace Sluice.Engine.Caching;

/// <summary>Element type of the KV cache.</summary>
public enum KvCacheType
{
    F16,
    F32,
}
