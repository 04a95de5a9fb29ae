using System.Text.RegularExpressions;
using Sluice.Gateway.Caching;
using YamlDotNet.RepresentationModel;

namespace Sluice.Gateway.Configuration;

/// <summary>The <c>cache:</c> section (and LiteLLM's <c>litellm_settings.cache</c> + <c>cache_params</c>).</summary>
internal static partial class CacheConfigReader
{
    private static readonly TimeSpan MinTtl = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxTtl = TimeSpan.FromDays(30);

    [GeneratedRegex("^[A-Za-z0-9_.:-]{1,100}$")]
    private static partial Regex NamespacePattern();

    /// <summary>cache: type, redis, ttl, max_size, max_entry_size, billing, rate, namespace. <paramref name="tenancyRedis"/>: the default of cache.redis.</summary>
    public static CacheSettings? Read(YamlFields root, string? tenancyRedis)
    {
        if (root.Get("cache") is not { } node)
        {
            return null;
        }
        var defaults = new CacheSettings();
        if (node is YamlScalarNode { Value: null or "" or "~" })
        {
            return defaults;
        }
        var f = new YamlFields(node, "cache");
        var type = f.String("type") switch
        {
            null or "memory" => CacheStoreKind.Memory,
            "redis" => CacheStoreKind.Redis,
            var other => throw YamlFields.Error(f.Child("type"), $"must be memory or redis, not '{other}'"),
        };
        string? redis = f.String("redis");
        string? ns = f.String("namespace");
        long? maxSize = f.Bytes("max_size", 1024, 1L << 40);
        var billing = f.String("billing") switch
        {
            null or "free" => CacheBilling.Free,
            "full" => CacheBilling.Full,
            "rate" => CacheBilling.Rate,
            var other => throw YamlFields.Error(f.Child("billing"), $"must be free, full or rate, not '{other}'"),
        };
        double? rate = f.Double("rate", 0, 1000);
        var settings = new CacheSettings
        {
            Type = type,
            Ttl = f.Duration("ttl", MinTtl, MaxTtl) ?? defaults.Ttl,
            MaxSize = maxSize ?? defaults.MaxSize,
            MaxEntrySize = f.Bytes("max_entry_size", 1, 512L << 20) ?? defaults.MaxEntrySize,
            Billing = billing,
        };
        f.RejectUnknown("known: type, redis, ttl, max_size, max_entry_size, billing, rate, namespace");
        if (billing == CacheBilling.Rate)
        {
            settings = settings with { Rate = (decimal)(rate ?? throw YamlFields.Error(f.Child("rate"), "is required with billing: rate (the multiplier of a hit's original cost, e.g. 0.5)")) };
        }
        else if (rate is not null)
        {
            throw YamlFields.Error(f.Child("rate"), "is only read with billing: rate");
        }
        return Check(settings, redis, ns, tenancyRedis, f.Path, maxSize is not null);
    }

    /// <summary>The checks both file formats share: the store's own fields, and the Redis it uses.</summary>
    public static CacheSettings Check(CacheSettings settings, string? redis, string? ns, string? tenancyRedis, string path, bool maxSizeSet)
    {
        if (settings.Type == CacheStoreKind.Memory)
        {
            if (redis is not null || ns is not null)
            {
                throw YamlFields.Error($"{path}.{(redis is not null ? "redis" : "namespace")}", "is only read with type: redis (the memory store is this process's)");
            }
            if (settings.MaxEntrySize > settings.MaxSize)
            {
                throw YamlFields.Error($"{path}.max_entry_size", $"must not be larger than max_size ({settings.MaxSize} bytes)");
            }
            return settings;
        }
        if (maxSizeSet)
        {
            throw YamlFields.Error($"{path}.max_size", "is only read with type: memory: bound a Redis cache with Redis's maxmemory and an LRU eviction policy");
        }
        if (ns is not null && !NamespacePattern().IsMatch(ns))
        {
            throw YamlFields.Error($"{path}.namespace", $"must be 1 to 100 letters, digits, '_', '.', ':' or '-', not '{ns}'");
        }
        string connection = redis ?? tenancyRedis
            ?? throw YamlFields.Error($"{path}.redis", "is required with type: redis (a host:port StackExchange.Redis configuration), or set tenancy.redis");
        try
        {
            StackExchange.Redis.ConfigurationOptions.Parse(connection);
        }
        catch (ArgumentException e)
        {
            throw YamlFields.Error($"{path}.redis", $"is not a Redis configuration ({e.Message})");
        }
        return settings with { Redis = connection, Namespace = ns ?? settings.Namespace };
    }

    /// <summary>
    /// LiteLLM's <c>litellm_settings.cache: true</c> with <c>cache_params</c>: type local (memory) or redis (host, port,
    /// password), ttl (seconds), namespace, max_size_in_memory is not a byte size and is refused, as is everything
    /// else LiteLLM has (semantic, s3, disk caches; per-call-type choices; mode default_off).
    /// </summary>
    public static CacheSettings? ReadLiteLlm(YamlFields litellm)
    {
        string? on = litellm.String("cache");
        var paramsNode = litellm.Get("cache_params");
        if (on is null or "false")
        {
            return paramsNode is null ? null : throw YamlFields.Error(litellm.Child("cache_params"), "is only read with cache: true");
        }
        if (on != "true")
        {
            throw YamlFields.Error(litellm.Child("cache"), $"must be true or false, not '{on}'");
        }
        if (paramsNode is null)
        {
            return new CacheSettings();
        }
        var p = new YamlFields(paramsNode, litellm.Child("cache_params"));
        var type = p.String("type") switch
        {
            null or "local" => CacheStoreKind.Memory,
            "redis" => CacheStoreKind.Redis,
            var other => throw YamlFields.Error(p.Child("type"), $"'{other}' is not supported: local (in memory) or redis"),
        };
        string? host = p.String("host");
        int? port = p.Int("port", 1, 65535);
        string? password = p.String("password");
        var ttl = p.Duration("ttl", MinTtl, MaxTtl);
        string? ns = p.String("namespace");
        if (p.String("mode") is { } mode && mode != "default_on")
        {
            throw YamlFields.Error(p.Child("mode"), $"'{mode}' is not supported: the gateway caches every deterministic request unless it opts out (default_on)");
        }
        p.RejectUnknown("supported: type, host, port, password, ttl, namespace, mode (default_on)");
        if (type == CacheStoreKind.Memory && (host ?? password) is not null || type == CacheStoreKind.Memory && port is not null)
        {
            throw YamlFields.Error(p.Child(host is not null ? "host" : port is not null ? "port" : "password"), "is only read with type: redis");
        }
        string? redis = type == CacheStoreKind.Redis
            ? (host ?? throw YamlFields.Error(p.Child("host"), "is required with type: redis")) + ":" + (port ?? 6379).ToString(System.Globalization.CultureInfo.InvariantCulture)
              + (password is null ? "" : ",password=" + password)
            : null;
        var settings = new CacheSettings { Type = type, Ttl = ttl ?? new CacheSettings().Ttl };
        return Check(settings, redis, ns, null, p.Path, maxSizeSet: false);
    }
}
