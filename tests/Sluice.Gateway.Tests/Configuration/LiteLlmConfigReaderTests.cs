using System.Net;
using System.Text.Json;
using Sluice.Gateway.Configuration;
using Sluice.Gateway.Forwarding;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Configuration;

/// <summary>A LiteLLM proxy config.yaml read as it is; what cannot be honoured is an error naming the field.</summary>
public sealed class LiteLlmConfigReaderTests
{
    private const string Valid = """
        model_list:
          - model_name: gpt-4o
            litellm_params:
              model: openai/llama-3.1-8b
              api_base: http://10.0.0.1:8000/v1
              api_key: os.environ/SLUICE_TEST_LITELLM_KEY
              rpm: 600
          - model_name: gpt-4o
            litellm_params:
              model: hosted_vllm/llama-3.1-8b
              api_base: http://10.0.0.2:8000/v1/
              weight: 3
          - model_name: gpt-4o-long
            litellm_params:
              model: openai/llama-3.1-8b-128k
              api_base: http://10.0.0.3:8000
        router_settings:
          routing_strategy: simple-shuffle
          num_retries: 2
          timeout: 30
          stream_timeout: 15
          allowed_fails: 3
          cooldown_time: 45
          fallbacks: [{"gpt-4o": ["gpt-4o-long"]}]
          context_window_fallbacks: [{"gpt-4o": ["gpt-4o-long"]}]
        """;

    [Fact]
    public void Parse_ALiteLlmFile_MapsEveryFieldOntoTheGateway()
    {
        Environment.SetEnvironmentVariable("SLUICE_TEST_LITELLM_KEY", "sk-from-env");
        var c = GatewayConfigReader.Parse(Valid);
        Assert.Equal(["gpt-4o", "gpt-4o-long"], c.Models.Select(m => m.Name));
        var gpt = c.Models[0];
        Assert.Equal(2, gpt.Deployments.Count);
        Assert.Equal(new Uri("http://10.0.0.1:8000/"), gpt.Deployments[0].Url);
        Assert.Equal(new Uri("http://10.0.0.2:8000/"), gpt.Deployments[1].Url);
        Assert.Equal("llama-3.1-8b", gpt.Deployments[0].BackendModel);
        Assert.Equal("sk-from-env", gpt.Deployments[0].ApiKey);
        Assert.Equal(600, gpt.Deployments[0].Rpm);
        Assert.Equal(600, gpt.Deployments[0].Weight); // LiteLLM weighs by rpm when no weight is given
        Assert.Equal(3, gpt.Deployments[1].Weight);
        Assert.Equal(["gpt-4o-long"], gpt.Fallbacks);
        Assert.Equal(["gpt-4o-long"], gpt.ContextWindowFallbacks);
        Assert.Equal(BalancingStrategy.WeightedRoundRobin, c.Routing.Strategy);
        Assert.Equal(3, c.Retry.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(30), c.Timeouts.Idle);
        Assert.Equal(TimeSpan.FromSeconds(15), c.Timeouts.FirstToken);
        Assert.Equal(TimeSpan.FromSeconds(15), c.Timeouts.StreamIdle);
        Assert.Equal(4, c.Breaker.FailureThreshold);
        Assert.Equal(TimeSpan.FromSeconds(45), c.Breaker.OpenFor);
    }

    [Fact]
    public void Parse_GeneralSettings_ReadsMasterKeyFromTheEnvironmentAndDatabaseUrl()
    {
        Environment.SetEnvironmentVariable("SLUICE_TEST_LITELLM_KEY", "sk-from-env");
        Environment.SetEnvironmentVariable("SLUICE_TEST_LITELLM_MASTER", "sk-master-from-env");
        string yaml = Valid.Replace("router_settings:",
            "general_settings:\n  master_key: os.environ/SLUICE_TEST_LITELLM_MASTER\n  database_url: postgresql://llm:pw@db.internal:5432/litellm\nrouter_settings:", StringComparison.Ordinal);

        var config = GatewayConfigReader.Parse(yaml);

        Assert.Equal("sk-master-from-env", config.MasterKey);
        Assert.Equal("postgresql://llm:pw@db.internal:5432/litellm", config.Tenancy!.Database);
        Assert.Null(GatewayConfigReader.Parse(Valid).Tenancy);
    }

    [Theory]
    [InlineData("routing_strategy: simple-shuffle", "routing_strategy: usage-based-routing-v2", "router_settings.routing_strategy: 'usage-based-routing-v2' is not supported")]
    [InlineData("  cooldown_time: 45", "  cooldown_time: 45\n  redis_host: localhost", "router_settings.redis_host: unknown field")]
    [InlineData("model: openai/llama-3.1-8b-128k", "model: azure/gpt-4o", "model_list[2].litellm_params.model: 'azure/gpt-4o': only OpenAI-compatible")]
    [InlineData("      rpm: 600", "      rpm: 600\n      tpm: 100000", "model_list[0].litellm_params.tpm: unknown field")]
    [InlineData("router_settings:", "general_settings:\n  master_key: sk-1234\n  store_model_in_db: true\nrouter_settings:", "general_settings.store_model_in_db: unknown field")]
    [InlineData("router_settings:", "general_settings:\n  master_key: os.environ/SLUICE_TEST_UNSET_MASTER\nrouter_settings:", "general_settings.master_key: names the environment variable SLUICE_TEST_UNSET_MASTER, which is not set")]
    [InlineData("fallbacks: [{\"gpt-4o\": [\"gpt-4o-long\"]}]", "fallbacks: [{\"gpt-4o\": [\"gpt-5\"]}]", "must name other models of this file, not 'gpt-5'")]
    [InlineData("api_key: os.environ/SLUICE_TEST_LITELLM_KEY", "api_key: os.environ/SLUICE_TEST_UNSET_VARIABLE", "model_list[0].litellm_params.api_key: names the environment variable SLUICE_TEST_UNSET_VARIABLE, which is not set")]
    public void Parse_WhatTheGatewayCannotHonour_IsAnErrorNamingTheField(string from, string to, string error)
    {
        Environment.SetEnvironmentVariable("SLUICE_TEST_LITELLM_KEY", "sk-from-env");
        string yaml = Valid.Replace(from, to, StringComparison.Ordinal);
        Assert.NotEqual(Valid, yaml);
        var ex = Assert.Throws<GatewayConfigException>(() => GatewayConfigReader.Parse(yaml));
        Assert.Contains(error, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_ALiteLlmFile_RoutesAndFallsBackAsItSays()
    {
        await using var failing = await FaultyBackend.StartAsync();
        await using var healthy = await FaultyBackend.StartAsync();
        string yaml = $"""
            model_list:
              - model_name: main
                litellm_params: {"{"}model: openai/503, api_base: "{failing.Url}v1"{"}"}
              - model_name: backup
                litellm_params: {"{"}model: openai/ok, api_base: "{healthy.Url}v1"{"}"}
            router_settings:
              num_retries: 0
              fallbacks: [{"{"}"main": ["backup"]{"}"}]
            """;
        await using var g = await TestGateway.StartAsync(yaml);
        var response = await g.Client.PostAsync("/v1/completions", Requests.Json("""{"model": "main", "prompt": "x"}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("model").GetString());
        Assert.Equal(healthy.Url.Authority, Requests.Header(response, AttemptTransformer.BackendHeader));
        Assert.Single(failing.Attempts);
        Assert.Equal(1, g.Gateway.Metrics.Failovers.Value("main", "fallback"));
    }
}
