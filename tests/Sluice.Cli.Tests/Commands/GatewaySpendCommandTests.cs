using System.Text.Json;
using Sluice.Cli.Tests.Support;
using Sluice.Gateway;
using Sluice.Hosting;

namespace Sluice.Cli.Tests.Commands;

/// <summary>`sluice gateway spend` against a real gateway in this process: the table, --json, and clear errors.</summary>
public sealed class GatewaySpendCommandTests
{
    private const string Master = "spend-test-master-key";

    private static async Task<(SluiceGateway Gateway, DirectoryInfo Folder)> StartAsync(string tenancy)
    {
        var folder = Directory.CreateTempSubdirectory("sluice-cli-spend-");
        string config = Path.Combine(folder.FullName, "gateway.yaml");
        await File.WriteAllTextAsync(config, "models:\n  - name: m\n    deployments:\n      - {url: 'http://127.0.0.1:9', kind: openai, "
            + "input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}\n" + tenancy);
        var gateway = SluiceGateway.Create(new GatewayOptions { ConfigPath = config, MasterKey = Master, Hosting = new SluiceHostingOptions { Port = 0 } });
        await gateway.StartAsync();
        return (gateway, folder);
    }

    /// <summary>The command off the test's thread: it blocks on its own awaits, which must not need this one.</summary>
    private static Task<(int Rc, string Output, string Error)> RunAsync(params string[] args) => Task.Run(() => CliRunner.Run(args));

    [Fact]
    public async Task Spend_GroupByModel_PrintsTheTableAndTheJson()
    {
        var (gateway, folder) = await StartAsync("tenancy: {}\n");
        try
        {
            string url = gateway.Addresses[0].ToString();
            // one request no backend answers: a row with its status and no tokens
            using (var client = new HttpClient { BaseAddress = gateway.Addresses[0] })
            {
                client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Master);
                await client.PostAsync("/v1/completions", new StringContent("""{"model": "m", "prompt": "x"}""", System.Text.Encoding.UTF8, "application/json"));
            }
            var (rc, output, error) = await RunAsync("gateway", "spend", "--url", url, "--master-key", Master, "--group-by", "model");
            Assert.True(rc == 0, error);
            Assert.StartsWith("model ", output, StringComparison.Ordinal);
            Assert.Matches(@"\nm\s+1\s+0\s+0\s+0\s+0\s*\n", output);

            (rc, output, error) = await RunAsync("gateway", "spend", "--url", url, "--master-key", Master, "--group-by", "day", "--json");
            Assert.True(rc == 0, error);
            Assert.Equal("day", JsonDocument.Parse(output).RootElement.GetProperty("group_by").GetString());
        }
        finally
        {
            await gateway.DisposeAsync();
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Spend_GatewayWithoutSpend_ExitsTwoSayingSo()
    {
        var (gateway, folder) = await StartAsync("");
        try
        {
            var (rc, _, error) = await RunAsync("gateway", "spend", "--url", gateway.Addresses[0].ToString(), "--master-key", Master);
            Assert.Equal(2, rc);
            Assert.Contains("the gateway answered 409: Spend is not recorded by this gateway", error, StringComparison.Ordinal);
            (rc, _, error) = await RunAsync("gateway", "spend", "--url", gateway.Addresses[0].ToString(), "--master-key", "wrong-master-key-123");
            Assert.Equal(2, rc);
            Assert.Contains("403", error, StringComparison.Ordinal);
        }
        finally
        {
            await gateway.DisposeAsync();
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void Spend_BadGroupBy_ExitsTwoNamingTheFlag()
    {
        var (rc, _, error) = CliRunner.Run("gateway", "spend", "--url", "http://127.0.0.1:1", "--master-key", Master, "--group-by", "week");
        Assert.Equal(2, rc);
        Assert.Contains("--group-by 'week'", error, StringComparison.Ordinal);
    }
}
