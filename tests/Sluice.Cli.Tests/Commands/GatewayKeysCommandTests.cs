using System.Text.Json.Nodes;
using Sluice.Cli.Tests.Support;
using Sluice.Gateway;
using Sluice.Hosting;

namespace Sluice.Cli.Tests.Commands;

/// <summary>`sluice gateway keys ...` against a real gateway (in this process, SQLite keys) through its admin API.</summary>
public sealed class GatewayKeysCommandTests : IAsyncLifetime
{
    private const string Master = "cli-test-master";
    private readonly string _folder = Directory.CreateTempSubdirectory("sluice-cli-keys-").FullName;
    private SluiceGateway _gateway = null!;
    private string _url = "";

    public async Task InitializeAsync()
    {
        string config = Path.Combine(_folder, "gateway.yaml");
        await File.WriteAllTextAsync(config, "models: [{name: demo, deployments: [{url: 'http://127.0.0.1:9'}]}]\nhealth: {interval: 60s}\ntenancy: {database: keys.db}\n");
        _gateway = SluiceGateway.Create(new GatewayOptions { ConfigPath = config, MasterKey = Master, Hosting = new SluiceHostingOptions { Port = 0 } });
        await _gateway.StartAsync();
        _url = _gateway.Addresses[0].ToString();
    }

    public async Task DisposeAsync()
    {
        await _gateway.StopAsync();
        await _gateway.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private (int Rc, string Output, string Error) Keys(params string[] args) =>
        CliRunner.Run(["gateway", "keys", .. args, "--url", _url, "--master-key", Master]);

    [Fact]
    public void Keys_CreateListShowRotateRevoke_ManageAKeyOnARunningGateway()
    {
        var (rc, output, error) = Keys("create", "--alias", "app", "--team", "search", "--model", "demo", "--rpm", "5", "--max-budget", "0", "--json");
        Assert.True(rc == 0, error);
        var created = JsonNode.Parse(output)!;
        string id = (string)created["id"]!;
        Assert.StartsWith("sk-", (string)created["key"]!, StringComparison.Ordinal);
        Assert.Equal(5L, (long)created["rpm_limit"]!);

        (rc, output, _) = Keys("list");
        Assert.Equal(0, rc);
        Assert.Contains(id, output, StringComparison.Ordinal);
        Assert.Contains("active", output, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-", output, StringComparison.Ordinal);

        (rc, output, _) = Keys("show", id);
        Assert.Equal(0, rc);
        Assert.Contains("team_id: search", output, StringComparison.Ordinal);

        (rc, output, _) = Keys("rotate", id, "--grace", "1h");
        Assert.Equal(0, rc);
        Assert.Contains("new secret (shown once", output, StringComparison.Ordinal);
        Assert.Contains("the old secret works until", output, StringComparison.Ordinal);

        (rc, _, _) = Keys("revoke", id);
        Assert.Equal(0, rc);
        (_, output, _) = Keys("list");
        Assert.Contains("revoked", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Keys_TpmLimitBlockUnblockRegenerate_ManageAKeyOnARunningGateway()
    {
        var (rc, output, error) = Keys("create", "--tpm-limit", "1000", "--rpm-limit", "7", "--json");
        Assert.True(rc == 0, error);
        var created = JsonNode.Parse(output)!;
        string id = (string)created["id"]!;
        Assert.Equal(1000L, (long)created["tpm_limit"]!);
        Assert.Equal(7L, (long)created["rpm_limit"]!);

        (rc, output, _) = Keys("block", id);
        Assert.Equal(0, rc);
        Assert.Contains("blocked: true", output, StringComparison.Ordinal);
        (_, output, _) = Keys("list");
        Assert.Contains("blocked", output, StringComparison.Ordinal);

        (rc, output, _) = Keys("unblock", id, "--json");
        Assert.Equal(0, rc);
        Assert.False((bool)JsonNode.Parse(output)!["blocked"]!);

        (rc, output, _) = Keys("regenerate", id, "--json");
        Assert.Equal(0, rc);
        var regenerated = JsonNode.Parse(output)!;
        Assert.Equal(id, (string)regenerated["id"]!);
        Assert.NotEqual((string)created["key"]!, (string)regenerated["key"]!);
    }

    [Fact]
    public void Keys_WrongMasterKey_ExitsTwoSayingSo()
    {
        var (rc, _, error) = CliRunner.Run("gateway", "keys", "list", "--url", _url, "--master-key", "wrong");

        Assert.Equal(2, rc);
        Assert.Contains("the gateway refused the master key (403)", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Keys_UnreachableGateway_ExitsTwoNamingTheUrl()
    {
        var (rc, _, error) = CliRunner.Run("gateway", "keys", "list", "--url", "http://127.0.0.1:9", "--master-key", Master);

        Assert.Equal(2, rc);
        Assert.Contains("cannot reach the gateway at http://127.0.0.1:9/", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Keys_UnknownKeyOrBadField_ExitsTwoWithTheGatewaysMessage()
    {
        var (rc, _, error) = Keys("show", "key_0000000000000000");
        Assert.Equal(2, rc);
        Assert.Contains("No key 'key_0000000000000000'", error, StringComparison.Ordinal);

        (rc, _, error) = Keys("create", "--budget-duration", "weekly");
        Assert.Equal(2, rc);
        Assert.Contains("budget_duration must be a period", error, StringComparison.Ordinal);
    }
}
