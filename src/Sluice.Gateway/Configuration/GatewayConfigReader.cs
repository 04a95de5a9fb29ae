using Sluice.Gateway.Tenancy;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Sluice.Gateway.Configuration;

/// <summary>
/// Reads and validates a gateway YAML file (schema in docs/gateway.md). Every error names the field
/// (<c>models[0].deployments[1].url: must be an absolute http(s) URL</c>); unknown fields are errors, so nothing
/// written in the file is silently ignored.
/// </summary>
public static class GatewayConfigReader
{
    public static GatewayConfig ReadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new GatewayConfigException($"{path}: cannot read ({ex.Message})", ex);
        }
        try
        {
            return Parse(text);
        }
        catch (GatewayConfigException ex)
        {
            throw new GatewayConfigException($"{path}: {ex.Message}", ex);
        }
    }

    public static GatewayConfig Parse(string yaml)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            throw new GatewayConfigException($"not valid YAML at line {ex.Start.Line}: {ex.Message}", ex);
        }
        if (stream.Documents.Count != 1)
        {
            throw new GatewayConfigException("must hold one YAML document");
        }
        var root = new YamlFields(stream.Documents[0].RootNode, "");
        if (root.Get("model_list") is not null)
        {
            return CheckCacheBilling(TenancyConfigReader.CheckPrices(LiteLlmConfigReader.Read(root), "model_list"), "litellm_settings.cache_params");
        }
        var models = root.List("models").Select((node, i) => ReadModel(node, $"models[{i}]")).ToList();
        if (models.Count == 0)
        {
            throw YamlFields.Error("models", "is required: a list of at least one model");
        }
        var duplicate = models.GroupBy(m => m.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw YamlFields.Error("models", $"model '{duplicate.Key}' is listed twice");
        }
        CheckFallbacks(models, "models", m => m.Name);
        var tenancy = ReadTenancy(root);
        var config = new GatewayConfig
        {
            Models = models,
            Routing = ReadRouting(root),
            Retry = ReadRetry(root),
            Timeouts = ReadTimeouts(root),
            Health = ReadHealth(root),
            Breaker = ReadBreaker(root),
            Tenancy = tenancy,
            Cache = CacheConfigReader.Read(root, tenancy?.Redis),
        };
        root.RejectUnknown("known: models, routing, retry, timeouts, health, breaker, tenancy, cache");
        return CheckCacheBilling(TenancyConfigReader.CheckPrices(config, "models"), "cache");
    }

    /// <summary>cache.billing other than free bills hits: it needs the spend log (tenancy with priced models).</summary>
    private static GatewayConfig CheckCacheBilling(GatewayConfig config, string path)
    {
        if (config.Cache is { Billing: not Caching.CacheBilling.Free } cache && config.Tenancy is not { Spend.Enabled: true })
        {
            throw YamlFields.Error($"{path}.billing", $"'{cache.Billing.ToString().ToLowerInvariant()}' bills cache hits, but spend is not recorded "
                + "(it needs tenancy: and priced deployments, or tenancy.spend.enabled: true)");
        }
        return config;
    }

    /// <summary>Every fallback names another model of the file; <paramref name="path"/> and <paramref name="nameOf"/> say where each model came from.</summary>
    internal static void CheckFallbacks(IReadOnlyList<ModelConfig> models, string path, Func<ModelConfig, string> nameOf)
    {
        for (int i = 0; i < models.Count; i++)
        {
            foreach (var (list, field) in new[] { (models[i].ContextWindowFallbacks, "context_window_fallbacks"), (models[i].Fallbacks, "fallbacks") })
            {
                foreach (string fallback in list)
                {
                    if (fallback == models[i].Name || !models.Any(m => m.Name == fallback))
                    {
                        throw YamlFields.Error($"{path}[{i}].{field}", $"must name other models of this file, not '{fallback}' (model '{nameOf(models[i])}')");
                    }
                }
            }
        }
    }

    private static List<string> Names(YamlFields f, string key) =>
        [.. f.List(key).Select((n, i) => n is YamlScalarNode { Value: { Length: > 0 } v } ? v : throw YamlFields.Error($"{f.Child(key)}[{i}]", "must be a model name"))];

    private static ModelConfig ReadModel(YamlNode node, string path)
    {
        var f = new YamlFields(node, path);
        string name = f.RequiredString("name");
        var deployments = f.List("deployments").Select((d, i) => ReadDeployment(d, $"{path}.deployments[{i}]", name)).ToList();
        if (deployments.Count == 0)
        {
            throw YamlFields.Error(f.Child("deployments"), "is required: at least one deployment");
        }
        var versions = deployments.Select(d => d.Version).Distinct(StringComparer.Ordinal).ToList();
        var traffic = ReadTraffic(f, versions);
        var contextFallbacks = Names(f, "context_window_fallbacks");
        var fallbacks = Names(f, "fallbacks");
        var pools = ReadPools(f, deployments);
        var canary = ReadCanary(f, versions);
        f.RejectUnknown("known: name, deployments, traffic, fallbacks, context_window_fallbacks, pools, canary");
        return new ModelConfig(name, deployments, traffic) { ContextWindowFallbacks = contextFallbacks, Fallbacks = fallbacks, Pools = pools, Canary = canary };
    }

    private static CanarySettings? ReadCanary(YamlFields model, IReadOnlyList<string> versions)
    {
        if (model.Get("canary") is not { } node)
        {
            return null;
        }
        var f = new YamlFields(node, model.Child("canary"));
        string version = f.RequiredString("version");
        if (!versions.Contains(version, StringComparer.Ordinal))
        {
            throw YamlFields.Error(f.Child("version"), $"no deployment has version '{version}' (versions: {string.Join(", ", versions)})");
        }
        if (versions.Count < 2)
        {
            throw YamlFields.Error(f.Path, "needs deployments of a stable version besides the canary's");
        }
        var steps = f.List("steps").Select((n, i) => n is YamlScalarNode { Value: { } v } && int.TryParse(v, System.Globalization.NumberStyles.Integer,
            System.Globalization.CultureInfo.InvariantCulture, out int p) && p is >= 1 and <= 100
            ? p : throw YamlFields.Error($"{f.Child("steps")}[{i}]", "must be a percent from 1 to 100")).ToList();
        if (steps.Count == 0)
        {
            throw YamlFields.Error(f.Child("steps"), "is required: the canary's percent at each step, rising, ending with 100 (e.g. [5, 25, 50, 100])");
        }
        for (int i = 1; i < steps.Count; i++)
        {
            if (steps[i] <= steps[i - 1])
            {
                throw YamlFields.Error($"{f.Child("steps")}[{i}]", $"must be more than the step before ({steps[i - 1]})");
            }
        }
        if (steps[^1] != 100)
        {
            throw YamlFields.Error(f.Child("steps"), "must end with 100 (the promotion)");
        }
        var interval = f.Duration("interval", TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(24))
            ?? throw YamlFields.Error(f.Child("interval"), "is required: how long each step is analysed (e.g. 1m)");
        var defaults = new CanarySettings(version, steps, interval);
        var settings = defaults with
        {
            FailureLimit = f.Int("failure_limit", 0, 100) ?? defaults.FailureLimit,
            MinRequests = f.Int("min_requests", 1, 1_000_000) ?? defaults.MinRequests,
            MaxErrorRateIncrease = (f.Double("max_error_rate_increase_percent", 0, 100) ?? defaults.MaxErrorRateIncrease * 100) / 100,
            MaxTtftRatio = f.Double("max_ttft_p95_ratio", 1, 1000) ?? defaults.MaxTtftRatio,
            MaxItlRatio = f.Double("max_itl_p95_ratio", 1, 1000) ?? defaults.MaxItlRatio,
            LatencySlack = f.Duration("latency_slack", TimeSpan.Zero, TimeSpan.FromMinutes(1)) ?? defaults.LatencySlack,
            GoldenCommand = f.String("golden_command"),
            GoldenTimeout = f.Duration("golden_timeout", TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)) ?? defaults.GoldenTimeout,
            AutoStart = f.String("start") switch
            {
                null or "auto" => true,
                "manual" => false,
                var other => throw YamlFields.Error(f.Child("start"), $"must be auto or manual, not '{other}'"),
            },
        };
        f.RejectUnknown("known: version, steps, interval, failure_limit, min_requests, max_error_rate_increase_percent, max_ttft_p95_ratio, "
            + "max_itl_p95_ratio, latency_slack, golden_command, golden_timeout, start");
        return settings;
    }

    private static List<PoolRule> ReadPools(YamlFields model, IReadOnlyList<DeploymentConfig> deployments)
    {
        var rules = new List<PoolRule>();
        var list = model.List("pools");
        for (int i = 0; i < list.Count; i++)
        {
            var f = new YamlFields(list[i], $"{model.Child("pools")}[{i}]");
            string name = f.RequiredString("name");
            var rule = new PoolRule(name, f.Int("prompt_tokens_over", 0, int.MaxValue), f.Int("max_tokens_over", 0, int.MaxValue));
            f.RejectUnknown("known: name, prompt_tokens_over, max_tokens_over");
            if (rule.PromptTokensOver is null && rule.MaxTokensOver is null)
            {
                throw YamlFields.Error(f.Path, "needs prompt_tokens_over or max_tokens_over");
            }
            if (!deployments.Any(d => d.Pool == name))
            {
                throw YamlFields.Error(f.Child("name"), $"no deployment has pool '{name}'");
            }
            rules.Add(rule);
        }
        for (int i = 0; i < deployments.Count; i++)
        {
            if (deployments[i].Pool is { } pool && !rules.Any(r => r.Name == pool))
            {
                throw YamlFields.Error($"{model.Child("deployments")}[{i}].pool", $"no rule in pools sends requests to '{pool}'");
            }
        }
        return rules;
    }

    private static Dictionary<string, int> ReadTraffic(YamlFields model, IReadOnlyList<string> versions)
    {
        string path = model.Child("traffic");
        var node = model.Get("traffic");
        if (node is null)
        {
            if (versions.Count > 1)
            {
                throw YamlFields.Error(path, $"is required when deployments have more than one version ({string.Join(", ", versions)}): percent per version");
            }
            return new Dictionary<string, int>(StringComparer.Ordinal) { [versions[0]] = 100 };
        }
        var f = new YamlFields(node, path);
        var traffic = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (version, _) in f.Entries().ToList())
        {
            if (!versions.Contains(version, StringComparer.Ordinal))
            {
                throw YamlFields.Error(f.Child(version), $"no deployment has version '{version}' (versions: {string.Join(", ", versions)})");
            }
            traffic[version] = f.Int(version, 0, 100)!.Value;
        }
        foreach (var version in versions)
        {
            traffic.TryAdd(version, 0);
        }
        int sum = traffic.Values.Sum();
        if (sum != 100)
        {
            throw YamlFields.Error(path, $"percentages must add up to 100, not {sum}");
        }
        return traffic;
    }

    private static DeploymentConfig ReadDeployment(YamlNode node, string path, string publicName)
    {
        var f = new YamlFields(node, path);
        string urlText = f.RequiredString("url");
        if (!Uri.TryCreate(urlText, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.Query.Length > 0)
        {
            throw YamlFields.Error(f.Child("url"), $"must be an absolute http(s) URL without a query, not '{urlText}'");
        }
        string model = f.String("model") ?? publicName;
        string version = f.String("version") ?? "default";
        int weight = f.Int("weight", 1, 1000) ?? 1;
        var kind = f.String("kind") switch
        {
            null or "sluice" => BackendKind.Sluice,
            "openai" => BackendKind.OpenAi,
            var other => throw YamlFields.Error(f.Child("kind"), $"must be sluice or openai, not '{other}'"),
        };
        string? apiKey = f.String("api_key");
        bool prefill = f.String("prefill") switch
        {
            null or "true" => true,
            "false" => false,
            var other => throw YamlFields.Error(f.Child("prefill"), $"must be true or false, not '{other}'"),
        };
        string? pool = f.String("pool");
        int? rpm = f.Int("rpm", 1, 10_000_000);
        var price = TenancyConfigReader.ReadPrice(f);
        f.RejectUnknown("known: url, model, version, weight, kind, api_key, prefill, rpm, pool, input_cost_per_token, output_cost_per_token");
        return new DeploymentConfig(new Uri(url.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/"), model, version, weight, kind, apiKey)
        { Prefill = prefill, Rpm = rpm, Pool = pool, Price = price };
    }

    private static RoutingSettings ReadRouting(YamlFields root)
    {
        if (root.Get("routing") is not { } node)
        {
            return new RoutingSettings();
        }
        var f = new YamlFields(node, "routing");
        var settings = new RoutingSettings
        {
            Strategy = f.String("strategy") switch
            {
                null or "least-outstanding" => BalancingStrategy.LeastOutstanding,
                "weighted-round-robin" => BalancingStrategy.WeightedRoundRobin,
                var other => throw YamlFields.Error(f.Child("strategy"), $"must be least-outstanding or weighted-round-robin, not '{other}'"),
            },
            LoadScrape = f.Duration("load_scrape", TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(10)),
            KvHigh = (f.Int("kv_high_percent", 1, 100) ?? 95) / 100.0,
            PrefixAffinity = ReadAffinity(f),
        };
        f.RejectUnknown("known: strategy, load_scrape, kv_high_percent, prefix_affinity");
        return settings;
    }

    private static AffinitySettings? ReadAffinity(YamlFields routing)
    {
        if (routing.Get("prefix_affinity") is not { } node)
        {
            return null;
        }
        var f = new YamlFields(node, routing.Child("prefix_affinity"));
        var settings = new AffinitySettings(f.Int("prefix_chars", 1, 1_000_000) ?? 256, (f.Int("load_factor_percent", 100, 1000) ?? 125) / 100.0);
        f.RejectUnknown("known: prefix_chars, load_factor_percent");
        return settings;
    }

    private static RetrySettings ReadRetry(YamlFields root)
    {
        if (root.Get("retry") is not { } node)
        {
            return new RetrySettings();
        }
        var f = new YamlFields(node, "retry");
        var defaults = new RetrySettings();
        var settings = new RetrySettings
        {
            MaxAttempts = f.Int("max_attempts", 1, 10) ?? defaults.MaxAttempts,
            Backoff = f.Duration("backoff", TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(1)) ?? defaults.Backoff,
            RateLimitedRetries = f.Int("rate_limited_retries", 0, 5) ?? defaults.RateLimitedRetries,
        };
        f.RejectUnknown("known: max_attempts, backoff, rate_limited_retries");
        return settings;
    }

    private static TimeoutSettings ReadTimeouts(YamlFields root)
    {
        var defaults = new TimeoutSettings();
        if (root.Get("timeouts") is not { } node)
        {
            return defaults;
        }
        var f = new YamlFields(node, "timeouts");
        var settings = new TimeoutSettings
        {
            Connect = f.Duration("connect", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(5)) ?? defaults.Connect,
            Idle = f.Duration("idle", TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)) ?? defaults.Idle,
            FirstToken = f.Duration("first_token", TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)) ?? defaults.FirstToken,
            StreamIdle = f.Duration("stream_idle", TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)) ?? defaults.StreamIdle,
        };
        f.RejectUnknown("known: connect, idle, first_token, stream_idle");
        return settings;
    }

    private static HealthSettings ReadHealth(YamlFields root)
    {
        var defaults = new HealthSettings();
        if (root.Get("health") is not { } node)
        {
            return defaults;
        }
        var f = new YamlFields(node, "health");
        var settings = new HealthSettings
        {
            Interval = f.Duration("interval", TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(10)) ?? defaults.Interval,
            Timeout = f.Duration("timeout", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1)) ?? defaults.Timeout,
        };
        f.RejectUnknown("known: interval, timeout");
        return settings;
    }

    private static TenancySettings? ReadTenancy(YamlFields root)
    {
        if (root.Get("tenancy") is not { } node)
        {
            return null;
        }
        var defaults = new TenancySettings();
        if (node is YamlScalarNode { Value: null or "" or "~" })
        {
            return defaults;
        }
        var f = new YamlFields(node, "tenancy");
        var settings = new TenancySettings
        {
            Database = f.String("database") ?? defaults.Database,
            Redis = f.String("redis"),
            Spend = TenancyConfigReader.ReadSpend(f),
            FailMode = f.String("fail_mode") switch
            {
                null or "closed" => FailMode.Closed,
                "open" => FailMode.Open,
                var other => throw YamlFields.Error(f.Child("fail_mode"), $"must be closed or open, not '{other}'"),
            },
        };
        f.RejectUnknown("known: database, redis, fail_mode, spend");
        return settings;
    }

    private static BreakerSettings ReadBreaker(YamlFields root)
    {
        var defaults = new BreakerSettings();
        if (root.Get("breaker") is not { } node)
        {
            return defaults;
        }
        var f = new YamlFields(node, "breaker");
        var settings = new BreakerSettings
        {
            FailureThreshold = f.Int("failure_threshold", 1, 1000) ?? defaults.FailureThreshold,
            OpenFor = f.Duration("open_for", TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1)) ?? defaults.OpenFor,
        };
        f.RejectUnknown("known: failure_threshold, open_for");
        return settings;
    }
}
