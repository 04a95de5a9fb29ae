using Sluice.Gateway.Caching;
using Sluice.Gateway.Configuration;

namespace Sluice.Gateway.Tests.Configuration;

/// <summary>cache: and LiteLLM's litellm_settings.cache: what is read, and a clear error for what is not.</summary>
public sealed class CacheConfigReaderTests
{
    private const string Models = "models:\n  - name: m\n    deployments:\n      - {url: 'http://10.0.0.1:8000'}\n";

    private static CacheSettings Read(string cache, string extra = "") => GatewayConfigReader.Parse(Models + extra + "cache: " + cache + "\n").Cache!;

    private static string Error(string cache, string extra = "") =>
        Assert.Throws<GatewayConfigException>(() => GatewayConfigReader.Parse(Models + extra + "cache: " + cache + "\n")).Message;

    [Fact]
    public void Parse_NoCacheSection_CacheOff()
    {
        Assert.Null(GatewayConfigReader.Parse(Models).Cache);
    }

    [Fact]
    public void Parse_EmptyCache_MemoryWithTheDefaults()
    {
        var cache = Read("{}");
        Assert.Equal((CacheStoreKind.Memory, TimeSpan.FromMinutes(10), 256L << 20, 1L << 20, CacheBilling.Free),
            (cache.Type, cache.Ttl, cache.MaxSize, cache.MaxEntrySize, cache.Billing));
    }

    [Fact]
    public void Parse_EveryMemoryField_Read()
    {
        var cache = Read("{type: memory, ttl: 2h, max_size: 64MiB, max_entry_size: 512KiB}");
        Assert.Equal((TimeSpan.FromHours(2), 64L << 20, 512L << 10), (cache.Ttl, cache.MaxSize, cache.MaxEntrySize));
    }

    [Fact]
    public void Parse_Redis_DefaultsToTheTenancyRedis()
    {
        var cache = Read("{type: redis, namespace: fleet-a}", "tenancy: {database: /tmp/x.db, redis: '10.0.0.9:6379'}\n");
        Assert.Equal((CacheStoreKind.Redis, "10.0.0.9:6379", "fleet-a"), (cache.Type, cache.Redis, cache.Namespace));
        Assert.Equal("10.0.0.8:6379", Read("{type: redis, redis: '10.0.0.8:6379'}").Redis);
    }

    [Theory]
    [InlineData("{type: memory, size: 1GiB}", "cache.size: unknown field")]
    [InlineData("{ttl: soon}", "cache.ttl: must be a duration")]
    [InlineData("{ttl: 0s}", "cache.ttl: must be a duration")]
    [InlineData("{type: disk}", "cache.type: must be memory or redis")]
    [InlineData("{type: redis}", "cache.redis: is required with type: redis")]
    [InlineData("{type: redis, redis: 'h:1,connectTimeout=soon'}", "cache.redis: is not a Redis configuration")]
    [InlineData("{type: memory, redis: 'x:1'}", "cache.redis: is only read with type: redis")]
    [InlineData("{type: memory, namespace: a}", "cache.namespace: is only read with type: redis")]
    [InlineData("{type: redis, redis: 'x:1', max_size: 1GiB}", "cache.max_size: is only read with type: memory")]
    [InlineData("{type: redis, redis: 'x:1', namespace: 'a*'}", "cache.namespace: must be")]
    [InlineData("{max_size: 1MiB, max_entry_size: 2MiB}", "cache.max_entry_size: must not be larger than max_size")]
    [InlineData("{max_size: lots}", "cache.max_size: must be a size")]
    [InlineData("{billing: rate}", "cache.rate: is required with billing: rate")]
    [InlineData("{rate: 0.5}", "cache.rate: is only read with billing: rate")]
    [InlineData("{billing: full}", "cache.billing: 'full' bills cache hits, but spend is not recorded")]
    [InlineData("{billing: half}", "cache.billing: must be free, full or rate")]
    public void Parse_BadCache_ErrorNamesTheField(string cache, string error)
    {
        Assert.Contains(error, Error(cache), StringComparison.Ordinal);
    }

    private const string LiteLlm = "model_list:\n  - model_name: m\n    litellm_params: {model: openai/m, api_base: 'http://10.0.0.1:8000/v1'}\nlitellm_settings:\n";

    [Fact]
    public void LiteLlm_CacheTrueWithRedisParams_MappedToARedisCache()
    {
        var cache = GatewayConfigReader.Parse(LiteLlm + "  cache: true\n  cache_params: {type: redis, host: 10.0.0.5, port: 6380, password: pw, ttl: 600, namespace: litellm}\n").Cache!;
        Assert.Equal((CacheStoreKind.Redis, "10.0.0.5:6380,password=pw", TimeSpan.FromMinutes(10), "litellm"), (cache.Type, cache.Redis, cache.Ttl, cache.Namespace));
        Assert.Equal(CacheStoreKind.Memory, GatewayConfigReader.Parse(LiteLlm + "  cache: true\n").Cache!.Type);
        Assert.Null(GatewayConfigReader.Parse(LiteLlm + "  cache: false\n").Cache);
    }

    [Theory]
    [InlineData("  cache: true\n  cache_params: {type: redis-semantic, host: h}\n", "cache_params.type: 'redis-semantic' is not supported")]
    [InlineData("  cache: true\n  cache_params: {type: redis}\n", "cache_params.host: is required with type: redis")]
    [InlineData("  cache: true\n  cache_params: {type: local, supported_call_types: [acompletion]}\n", "cache_params.supported_call_types: unknown field")]
    [InlineData("  cache: true\n  cache_params: {mode: default_off}\n", "cache_params.mode: 'default_off' is not supported")]
    [InlineData("  cache_params: {type: local}\n", "cache_params: is only read with cache: true")]
    public void LiteLlm_CacheParamsNotSupported_ErrorNamesTheField(string settings, string error)
    {
        var e = Assert.Throws<GatewayConfigException>(() => GatewayConfigReader.Parse(LiteLlm + settings));
        Assert.Contains(error, e.Message, StringComparison.Ordinal);
    }
}
