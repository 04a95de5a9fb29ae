using System.Text.Json.Nodes;
using Sluice.Cli.Tests.Support;
using Sluice.Gateway;
using Sluice.Hosting;

namespace Sluice.Cli.Tests.Commands;

/// <summary>`sluice gateway teams ...` against a real gateway (in this process, SQLite) through its /team/* routes.</summary>
public sealed class GatewayTeamsCommandTests : IAsyncLifetime
{
    private const string Master = "cli-test-master";
    private readonly string _folder = Directory.CreateTempSubdirectory("sluice-cli-teams-").FullName;
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

    private (int Rc, string Output, string Error) Run(string group, params string[] args) =>
        CliRunner.Run(["gateway", group, .. args, "--url", _url, "--master-key", Master]);

    [Fact]
    public void Teams_CreateListShowUpdateBlockDelete_ManageATeamOnARunningGateway()
    {
        var (rc, output, error) = Run("teams", "create", "search", "--alias", "Search", "--model", "demo", "--rpm", "50", "--max-budget", "10", "--budget-duration", "30d", "--json");
        Assert.True(rc == 0, error);
        var created = JsonNode.Parse(output)!;
        Assert.Equal("search", (string)created["team_id"]!);
        Assert.Equal(50L, (long)created["rpm_limit"]!);
        Assert.Equal(10m, (decimal)created["max_budget"]!);

        (rc, output, error) = Run("keys", "create", "--team", "search", "--json");
        Assert.True(rc == 0, error);
        string key = (string)JsonNode.Parse(output)!["id"]!;

        (rc, output, _) = Run("teams", "list");
        Assert.Equal(0, rc);
        Assert.Contains("search", output, StringComparison.Ordinal);
        Assert.Contains("10/30d", output, StringComparison.Ordinal);

        (rc, output, _) = Run("teams", "show", "search");
        Assert.Equal(0, rc);
        Assert.Contains("spend: 0", output, StringComparison.Ordinal);
        Assert.Contains(key, output, StringComparison.Ordinal);

        (rc, output, error) = Run("teams", "update", "search", "--tpm", "1000");
        Assert.True(rc == 0, error);
        Assert.Contains("tpm_limit: 1000", output, StringComparison.Ordinal);

        (rc, output, _) = Run("teams", "block", "search");
        Assert.Equal(0, rc);
        Assert.Contains("blocked: true", output, StringComparison.Ordinal);

        // a team with keys is not deleted
        (rc, _, error) = Run("teams", "delete", "search");
        Assert.Equal(2, rc);
        Assert.Contains(key, error, StringComparison.Ordinal);
        Assert.Equal(0, Run("keys", "revoke", key).Rc);
    }

    [Fact]
    public void Teams_UnknownTeam_IsOneErrorLineAndExitCode2()
    {
        var (rc, _, error) = Run("teams", "show", "nope");
        Assert.Equal(2, rc);
        Assert.Contains("404", error, StringComparison.Ordinal);
        Assert.Contains("No team 'nope'", error, StringComparison.Ordinal);
    }
}
