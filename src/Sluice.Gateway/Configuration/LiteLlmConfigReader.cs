using Sluice.Gateway.Tenancy;
using YamlDotNet.RepresentationModel;

namespace Sluice.Gateway.Configuration;

/// <summary>
/// A LiteLLM proxy <c>config.yaml</c> read as it is (a file with <c>model_list</c>): each <c>model_name</c> a public
/// model, each entry one of its deployments; <c>router_settings</c> (and the same keys under <c>litellm_settings</c>)
/// mapped onto the gateway's settings. What the gateway cannot honour is an error naming the field, never skipped.
/// </summary>
internal static class LiteLlmConfigReader
{
    /// <summary>LiteLLM provider prefixes of OpenAI-compatible servers: the rest of litellm_params.model is the backend's model name.</summary>
    private static readonly string[] OpenAiProviders = ["openai", "hosted_vllm", "text-completion-openai", "openai_like", "llamafile", "lm_studio"];

    public static GatewayConfig Read(YamlFields root)
    {
        var entries = root.List("model_list");
        if (entries.Count == 0)
        {
            throw YamlFields.Error("model_list", "is empty: list at least one model");
        }
        var deployments = new List<(string Name, DeploymentConfig Deployment)>();
        for (int i = 0; i < entries.Count; i++)
        {
            deployments.Add(ReadEntry(entries[i], $"model_list[{i}]"));
        }
        var settings = new Settings();
        if (root.Get("router_settings") is { } router)
        {
            ReadSettings(new YamlFields(router, "router_settings"), settings, routerKeys: true);
        }
        if (root.Get("litellm_settings") is { } litellm)
        {
            ReadSettings(new YamlFields(litellm, "litellm_settings"), settings, routerKeys: false);
        }
        string? masterKey = null;
        TenancySettings? tenancy = null;
        if (root.Get("general_settings") is { } general)
        {
            var g = new YamlFields(general, "general_settings");
            masterKey = Environ(g, "master_key");
            if (Environ(g, "database_url") is { } database)
            {
                tenancy = new TenancySettings { Database = database };
            }
            g.RejectUnknown("supported: master_key, database_url");
        }
        root.RejectUnknown("known in a LiteLLM file: model_list, router_settings, litellm_settings, general_settings");
        var models = deployments.GroupBy(d => d.Name, StringComparer.Ordinal).Select(g => new ModelConfig(g.Key, [.. g.Select(d => d.Deployment)],
            new Dictionary<string, int>(StringComparer.Ordinal) { ["default"] = 100 })
        {
            Fallbacks = settings.Fallbacks.GetValueOrDefault(g.Key) ?? [],
            ContextWindowFallbacks = settings.ContextFallbacks.GetValueOrDefault(g.Key) ?? [],
        }).ToList();
        foreach (var (field, map) in new[] { ("fallbacks", settings.Fallbacks), ("context_window_fallbacks", settings.ContextFallbacks) })
        {
            foreach (var name in map.Keys.Where(n => !models.Any(m => m.Name == n)))
            {
                throw YamlFields.Error($"{settings.Origin[field]}.{field}", $"names '{name}', which no model_list entry has as model_name");
            }
        }
        GatewayConfigReader.CheckFallbacks(models, "model_name", m => m.Name);
        return new GatewayConfig
        {
            Models = models,
            Routing = new RoutingSettings { Strategy = settings.Strategy },
            Retry = new RetrySettings { MaxAttempts = settings.MaxAttempts },
            Timeouts = settings.Timeouts,
            Breaker = settings.Breaker,
            MasterKey = masterKey,
            Tenancy = tenancy,
            Cache = settings.Cache,
        };
    }

    /// <summary>A string field, or the environment variable it names as `os.environ/NAME` (unset: an error naming both).</summary>
    private static string? Environ(YamlFields f, string key)
    {
        string? value = f.String(key);
        if (value is not null && value.StartsWith("os.environ/", StringComparison.Ordinal))
        {
            string variable = value["os.environ/".Length..];
            value = Environment.GetEnvironmentVariable(variable) is { Length: > 0 } set ? set
                : throw YamlFields.Error(f.Child(key), $"names the environment variable {variable}, which is not set");
        }
        return value;
    }

    private static (string Name, DeploymentConfig Deployment) ReadEntry(YamlNode node, string path)
    {
        var f = new YamlFields(node, path);
        string name = f.RequiredString("model_name");
        if (f.Get("litellm_params") is not { } paramsNode)
        {
            throw YamlFields.Error(f.Child("litellm_params"), "is required");
        }
        var p = new YamlFields(paramsNode, f.Child("litellm_params"));
        string model = p.RequiredString("model");
        int slash = model.IndexOf('/', StringComparison.Ordinal);
        string provider = slash < 0 ? "" : model[..slash];
        if (!OpenAiProviders.Contains(provider, StringComparer.Ordinal))
        {
            throw YamlFields.Error(p.Child("model"), $"'{model}': only OpenAI-compatible servers can be deployments ({string.Join("/, ", OpenAiProviders)}/ followed by the server's model name)");
        }
        string apiBase = p.String("api_base") ?? throw YamlFields.Error(p.Child("api_base"), "is required: the OpenAI-compatible server's URL");
        if (!Uri.TryCreate(apiBase, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.Query.Length > 0)
        {
            throw YamlFields.Error(p.Child("api_base"), $"must be an absolute http(s) URL, not '{apiBase}'");
        }
        // LiteLLM's api_base ends with /v1 (it appends /chat/completions); the gateway appends /v1/...
        string root = url.GetLeftPart(UriPartial.Path).TrimEnd('/');
        root = root.EndsWith("/v1", StringComparison.Ordinal) ? root[..^3] : root;
        string? apiKey = Environ(p, "api_key");
        int? rpm = p.Int("rpm", 1, 10_000_000);
        // LiteLLM's simple-shuffle weighs by weight, else by rpm: so does the gateway
        int weight = p.Int("weight", 1, 1000) ?? (rpm is { } r ? Math.Clamp(r, 1, 1000) : 1);
        // prices as LiteLLM writes them: in litellm_params, or in model_info (litellm_params wins, as in LiteLLM)
        var price = TenancyConfigReader.ReadPrice(p);
        p.RejectUnknown("known: model, api_base, api_key, rpm, weight, input_cost_per_token, output_cost_per_token");
        if (f.Get("model_info") is { } infoNode)
        {
            var info = new YamlFields(infoNode, f.Child("model_info"));
            var infoPrice = TenancyConfigReader.ReadPrice(info);
            price ??= infoPrice;
            info.Get("id");
            info.RejectUnknown("known: id, input_cost_per_token, output_cost_per_token");
        }
        f.RejectUnknown("known: model_name, litellm_params, model_info");
        var deployment = new DeploymentConfig(new Uri(root + "/"), model[(slash + 1)..], "default", weight,
            BackendKind.OpenAi, apiKey)
        { Rpm = rpm, Price = price };
        return (name, deployment);
    }

    private sealed class Settings
    {
        public BalancingStrategy Strategy { get; set; } = BalancingStrategy.LeastOutstanding;
        public int MaxAttempts { get; set; } = new RetrySettings().MaxAttempts;
        public TimeoutSettings Timeouts { get; set; } = new();
        public BreakerSettings Breaker { get; set; } = new();
        public Dictionary<string, IReadOnlyList<string>> Fallbacks { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, IReadOnlyList<string>> ContextFallbacks { get; } = new(StringComparer.Ordinal);
        public Caching.CacheSettings? Cache { get; set; }
        public Dictionary<string, string> Origin { get; } = new(StringComparer.Ordinal) { ["fallbacks"] = "router_settings", ["context_window_fallbacks"] = "router_settings" };
    }

    private static void ReadSettings(YamlFields f, Settings s, bool routerKeys)
    {
        if (routerKeys && f.String("routing_strategy") is { } strategy)
        {
            s.Strategy = strategy switch
            {
                "simple-shuffle" => BalancingStrategy.WeightedRoundRobin,
                "least-busy" => BalancingStrategy.LeastOutstanding,
                _ => throw YamlFields.Error(f.Child("routing_strategy"), $"'{strategy}' is not supported: use simple-shuffle (weighted) or least-busy (least outstanding requests)"),
            };
        }
        if (f.Int("num_retries", 0, 9) is { } retries)
        {
            s.MaxAttempts = retries + 1;
        }
        // timeout / request_timeout: no bytes for this long ends an attempt (an unstreamed answer sends none until it is done)
        if (f.Duration(routerKeys ? "timeout" : "request_timeout", TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)) is { } timeout)
        {
            s.Timeouts = s.Timeouts with { Idle = timeout };
        }
        if (routerKeys && f.Duration("stream_timeout", TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)) is { } streamTimeout)
        {
            // LiteLLM's stream_timeout bounds each read of a stream: the first token and every gap after it
            s.Timeouts = s.Timeouts with { FirstToken = streamTimeout, StreamIdle = streamTimeout };
        }
        if (routerKeys && f.Int("allowed_fails", 0, 999) is { } allowed)
        {
            s.Breaker = s.Breaker with { FailureThreshold = allowed + 1 }; // LiteLLM cools a deployment down once it fails more than allowed_fails
        }
        if (routerKeys && f.Duration("cooldown_time", TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1)) is { } cooldown)
        {
            s.Breaker = s.Breaker with { OpenFor = cooldown };
        }
        foreach (var (key, map) in new[] { ("fallbacks", s.Fallbacks), ("context_window_fallbacks", s.ContextFallbacks) })
        {
            var list = f.List(key);
            for (int i = 0; i < list.Count; i++)
            {
                var item = new YamlFields(list[i], $"{f.Child(key)}[{i}]");
                foreach (var (model, targets) in item.Entries().ToList())
                {
                    map[model] = targets is YamlSequenceNode seq
                        ? [.. seq.Children.Select(c => (c as YamlScalarNode)?.Value ?? throw YamlFields.Error($"{item.Child(model)}", "must be a list of model names"))]
                        : throw YamlFields.Error(item.Child(model), "must be a list of model names");
                    s.Origin[key] = f.Path;
                }
            }
        }
        if (!routerKeys)
        {
            s.Cache = CacheConfigReader.ReadLiteLlm(f);
        }
        f.RejectUnknown(routerKeys
            ? "supported: routing_strategy, num_retries, timeout, stream_timeout, allowed_fails, cooldown_time, fallbacks, context_window_fallbacks"
            : "supported: num_retries, request_timeout, fallbacks, context_window_fallbacks, cache, cache_params");
    }
}
