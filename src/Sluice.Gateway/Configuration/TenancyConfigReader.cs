using Sluice.Gateway.Tenancy;
using Sluice.Gateway.Tenancy.Spend;

namespace Sluice.Gateway.Configuration;

/// <summary>The <c>tenancy:</c> section and the per-deployment prices it needs.</summary>
internal static class TenancyConfigReader
{
    /// <summary>tenancy.spend (the rest of tenancy: is read by <see cref="GatewayConfigReader"/>).</summary>
    public static SpendSettings ReadSpend(YamlFields tenancy)
    {
        var defaults = new SpendSettings();
        if (tenancy.Get("spend") is not { } node)
        {
            return defaults;
        }
        var f = new YamlFields(node, tenancy.Child("spend"));
        var settings = new SpendSettings
        {
            Enabled = f.String("enabled") switch
            {
                null => null,
                "true" => true,
                "false" => false,
                var other => throw YamlFields.Error(f.Child("enabled"), $"must be true or false, not '{other}'"),
            },
            MaxBatch = f.Int("max_batch", 1, 100_000) ?? defaults.MaxBatch,
            Journal = f.String("journal") switch
            {
                null => null,
                "" => throw YamlFields.Error(f.Child("journal"), "must be a folder path or off, not empty"),
                "false" => "off",
                var path => path,
            },
        };
        f.RejectUnknown("known: enabled, max_batch, journal");
        return settings;
    }

    /// <summary>input_cost_per_token and output_cost_per_token of one mapping (a deployment, litellm_params or model_info); null when neither is there.</summary>
    public static Price? ReadPrice(YamlFields f)
    {
        string? input = f.String("input_cost_per_token"), output = f.String("output_cost_per_token");
        if (input is null && output is null)
        {
            return null;
        }
        if (input is null || output is null)
        {
            string missing = input is null ? "input_cost_per_token" : "output_cost_per_token";
            throw YamlFields.Error(f.Child(missing), "is required with the other price (0 for a free side)");
        }
        return new Price(Pico(f, "input_cost_per_token", input), Pico(f, "output_cost_per_token", output));
    }

    private static long Pico(YamlFields f, string key, string text) =>
        Price.ParsePico(text, out string? problem) ?? throw YamlFields.Error(f.Child(key), problem!);

    /// <summary>
    /// Decides tenancy.spend.enabled when the file did not (on when any deployment is priced) and, with spend on, checks
    /// that every deployment of every model has a price: a model without one is an error naming it, never $0.
    /// </summary>
    public static GatewayConfig CheckPrices(GatewayConfig config, string path)
    {
        if (config.Tenancy is not { } tenancy)
        {
            return config;
        }
        bool enabled = tenancy.Spend.Enabled ?? config.Models.Any(m => m.Deployments.Any(d => d.Price is not null));
        config = config with { Tenancy = tenancy with { Spend = tenancy.Spend with { Enabled = enabled } } };
        if (!enabled)
        {
            return config;
        }
        foreach (var model in config.Models)
        {
            var unpriced = model.Deployments.FirstOrDefault(d => d.Price is null);
            if (unpriced is not null)
            {
                throw YamlFields.Error(path, $"model '{model.Name}' has no price for its deployment {unpriced.BackendId}: tenancy.spend is on, so each deployment needs "
                    + "input_cost_per_token and output_cost_per_token (0 for a free model; a missing price is never billed as $0)");
            }
        }
        return config;
    }
}
