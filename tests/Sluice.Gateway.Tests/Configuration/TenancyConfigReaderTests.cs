using Sluice.Gateway.Configuration;
using Sluice.Gateway.Tenancy.Spend;

namespace Sluice.Gateway.Tests.Configuration;

/// <summary>tenancy: and prices: exact money, and spend never on a model without a price.</summary>
public sealed class TenancyConfigReaderTests
{
    private static string Yaml(string prices, string tenancy = "tenancy: {database: /tmp/x.db}\n") =>
        $"models:\n  - name: m\n    deployments:\n      - {{url: 'http://10.0.0.1:8000', {prices}}}\n  - name: free\n    deployments:\n"
        + "      - {url: 'http://10.0.0.2:8000', input_cost_per_token: 0, output_cost_per_token: 0}\n" + tenancy;

    [Fact]
    public void Parse_Prices_KeptExactlyInPicoUnits()
    {
        var config = GatewayConfigReader.Parse(Yaml("input_cost_per_token: 0.0000025, output_cost_per_token: 1e-5"));
        var price = config.Models[0].Deployments[0].Price!.Value;
        Assert.Equal(new Price(2_500_000, 10_000_000), price);
        // 0.1 + 0.2 in floats is not 0.3: in pico-units it is, for any number of tokens
        Assert.Equal(0.3m, Price.ToMoney(new Price(100_000_000_000, 200_000_000_000).Cost(1, 1)));
        Assert.Equal(0.0000775m, Price.ToMoney(price.Cost(3, 7)));
        Assert.NotNull(config.Tenancy);
        Assert.True(config.Tenancy!.Spend.Enabled);
    }

    [Fact]
    public void Parse_SpendOnAndAModelWithoutPrice_ErrorNamesTheModel()
    {
        var error = Assert.Throws<GatewayConfigException>(() => GatewayConfigReader.Parse(Yaml("model: llama")));
        Assert.Contains("model 'm' has no price", error.Message, StringComparison.Ordinal);
        Assert.Contains("input_cost_per_token", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", null, false)]
    [InlineData(", journal: /var/lib/sluice/journal", "/var/lib/sluice/journal", false)]
    [InlineData(", journal: off", "off", true)]
    [InlineData(", journal: false", "off", true)]
    public void Parse_SpendJournal_DefaultAFolderOrOff(string field, string? journal, bool off)
    {
        const string Prices = "input_cost_per_token: 0, output_cost_per_token: 0";
        var spend = GatewayConfigReader.Parse(Yaml(Prices, $"tenancy: {{database: /tmp/x.db, spend: {{max_batch: 64{field}}}}}\n")).Tenancy!.Spend;
        Assert.Equal(journal, spend.Journal);
        Assert.Equal(off, spend.JournalOff);
        Assert.Equal(64, spend.MaxBatch);
    }

    [Fact]
    public void Parse_SpendUnknownField_ErrorNamesTheKnownOnes()
    {
        var error = Assert.Throws<GatewayConfigException>(() => GatewayConfigReader.Parse(
            Yaml("input_cost_per_token: 0, output_cost_per_token: 0", "tenancy: {database: /tmp/x.db, spend: {journal_path: /x}}\n")));
        Assert.Contains("journal_path", error.Message, StringComparison.Ordinal);
        Assert.Contains("known: enabled, max_batch, journal", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SpendOffOrNoTenancy_PricesNotRequired()
    {
        Assert.Null(GatewayConfigReader.Parse(Yaml("model: llama", tenancy: "")).Tenancy);
        Assert.False(GatewayConfigReader.Parse(Yaml("model: llama", tenancy: "tenancy: {spend: {enabled: false}}\n")).Tenancy!.Spend.Enabled);
        // keys only: nothing priced and spend not asked for
        const string Unpriced = "models:\n  - name: m\n    deployments:\n      - {url: 'http://10.0.0.1:8000'}\ntenancy: {database: /tmp/x.db}\n";
        Assert.False(GatewayConfigReader.Parse(Unpriced).Tenancy!.Spend.Enabled);
        var error = Assert.Throws<GatewayConfigException>(() => GatewayConfigReader.Parse(Unpriced.Replace("/tmp/x.db}", "/tmp/x.db, spend: {enabled: true}}", StringComparison.Ordinal)));
        Assert.Contains("model 'm' has no price", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("input_cost_per_token: 0.0000000000001, output_cost_per_token: 0", "more than 12 decimal places")]
    [InlineData("input_cost_per_token: -1, output_cost_per_token: 0", "non-negative")]
    [InlineData("input_cost_per_token: cheap, output_cost_per_token: 0", "non-negative")]
    [InlineData("input_cost_per_token: 0.1", "output_cost_per_token: is required")]
    public void Parse_BadPrice_ErrorNamesTheField(string prices, string expected)
    {
        var error = Assert.Throws<GatewayConfigException>(() => GatewayConfigReader.Parse(Yaml(prices)));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("models[0].deployments[0]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownTenancyField_Refused()
    {
        var error = Assert.Throws<GatewayConfigException>(() => GatewayConfigReader.Parse(Yaml("model: llama", tenancy: "tenancy: {spend: {batch: 3}}\n")));
        Assert.Contains("tenancy.spend.batch: unknown field", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_LiteLlmPrices_FromLitellmParamsOrModelInfo()
    {
        var config = GatewayConfigReader.Parse("""
            model_list:
              - model_name: a
                litellm_params: {model: openai/x, api_base: 'http://10.0.0.1:8000/v1', input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}
              - model_name: b
                litellm_params: {model: openai/y, api_base: 'http://10.0.0.2:8000/v1'}
                model_info: {id: b-1, input_cost_per_token: 0.000003, output_cost_per_token: 0.000004}
            """);
        Assert.Equal(new Price(1_000_000, 2_000_000), config.Models[0].Deployments[0].Price);
        Assert.Equal(new Price(3_000_000, 4_000_000), config.Models[1].Deployments[0].Price);
    }
}
