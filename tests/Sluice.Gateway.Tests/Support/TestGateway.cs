using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;
using Sluice.Hosting;

namespace Sluice.Gateway.Tests.Support;

/// <summary>A gateway in this process on a free port, its config in a temporary file the test can rewrite.</summary>
public sealed class TestGateway : IAsyncDisposable
{
    public const string MasterKey = "test-master-key";

    private readonly string _dir;
    private int _writes;

    private TestGateway(string dir, SluiceGateway gateway, Uri baseUri, LogCapture logs)
    {
        Logs = logs;
        _dir = dir;
        Gateway = gateway;
        BaseUri = baseUri;
        Client = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromMinutes(2) };
        Admin = new HttpClient { BaseAddress = baseUri };
        Admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", MasterKey);
    }

    public SluiceGateway Gateway { get; }
    public LogCapture Logs { get; }
    public Uri BaseUri { get; }
    public HttpClient Client { get; }
    public HttpClient Admin { get; }
    public string ConfigPath => Path.Combine(_dir, "gateway.yaml");

    public static async Task<TestGateway> StartAsync(string yaml, IReadOnlyList<string>? apiKeys = null)
    {
        string dir = Directory.CreateTempSubdirectory("sluice-gateway-test-").FullName;
        await File.WriteAllTextAsync(Path.Combine(dir, "gateway.yaml"), yaml);
        var logs = new LogCapture();
        var gateway = SluiceGateway.Create(new GatewayOptions
        {
            ConfigPath = Path.Combine(dir, "gateway.yaml"),
            MasterKey = MasterKey,
            Hosting = new SluiceHostingOptions { Port = 0, ApiKeys = apiKeys ?? [] },
            ReloadInterval = TimeSpan.FromMilliseconds(100),
            LogLevel = Microsoft.Extensions.Logging.LogLevel.Information,
        }, logging => logging.AddProvider(logs));
        await gateway.StartAsync();
        return new TestGateway(dir, gateway, gateway.Addresses[0], logs);
    }

    /// <summary>Replaces the config file at once (a rename, as editors and ConfigMap updates do) with a new modification time, so every write is one change.</summary>
    public async Task WriteConfigAsync(string yaml)
    {
        string next = ConfigPath + ".next";
        await File.WriteAllTextAsync(next, yaml);
        File.SetLastWriteTimeUtc(next, DateTime.UtcNow.AddSeconds(Interlocked.Increment(ref _writes)));
        File.Move(next, ConfigPath, overwrite: true);
    }

    /// <summary>YAML for one model over the given deployments: (url, version, weight).</summary>
    public static string Config(string model, IEnumerable<(Uri Url, string Version, int Weight)> deployments, string? traffic = null, string extra = "")
    {
        var lines = new List<string> { "models:", $"  - name: {model}" };
        if (traffic is not null)
        {
            lines.Add($"    traffic: {traffic}");
        }
        lines.Add("    deployments:");
        foreach (var (url, version, weight) in deployments)
        {
            lines.Add($"      - url: {url}");
            lines.Add($"        model: {ServeReplicas.BackendModel}");
            lines.Add($"        version: {version}");
            lines.Add($"        weight: {weight}");
        }
        return string.Join('\n', lines) + "\n" + extra;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Admin.Dispose();
        await Gateway.StopAsync();
        await Gateway.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
