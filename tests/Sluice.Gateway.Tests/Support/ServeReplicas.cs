using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace Sluice.Gateway.Tests.Support;

/// <summary>
/// Real `sluice serve` processes on the built-in demo model, started once for the test collection on free ports and
/// killed (with their process trees) at the end. They serve the model as <see cref="BackendModel"/>, a name clients of
/// the gateway never use, so a request that reaches them proves the gateway put the backend's name in the body.
/// </summary>
public sealed class ServeReplicas : IAsyncLifetime
{
    public const string BackendModel = "backend-demo";
    public const int Count = 4;

    private readonly List<Process> _processes = [];

    public IReadOnlyList<Uri> Urls { get; private set; } = [];

    public async Task InitializeAsync()
    {
        string sluice = Path.Combine(AppContext.BaseDirectory, "sluice.dll");
        var starts = Enumerable.Range(0, Count).Select(_ => StartAsync(sluice)).ToList();
        Urls = await Task.WhenAll(starts);
        using var client = new HttpClient();
        foreach (var url in Urls)
        {
            var deadline = DateTime.UtcNow.AddSeconds(120);
            while ((await client.GetAsync(new Uri(url, "/health/ready"))).StatusCode != HttpStatusCode.OK)
            {
                Assert.True(DateTime.UtcNow < deadline, $"{url} not ready within 120 s");
                await Task.Delay(50);
            }
        }
    }

    private async Task<Uri> StartAsync(string sluice)
    {
        var (process, url) = await LaunchAsync(sluice, process =>
        {
            lock (_processes)
            {
                _processes.Add(process);
            }
        });
        return url;
    }

    /// <summary>One more replica, its own (a test that kills it): started, listening, and ready.</summary>
    public static async Task<(Process Process, Uri Url)> StartOneAsync()
    {
        var (process, url) = await LaunchAsync(Path.Combine(AppContext.BaseDirectory, "sluice.dll"), _ => { });
        using var client = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while ((await client.GetAsync(new Uri(url, "/health/ready"))).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{url} not ready within 120 s");
            await Task.Delay(50);
        }
        return (process, url);
    }

    private static async Task<(Process Process, Uri Url)> LaunchAsync(string sluice, Action<Process> started)
    {
        var start = new ProcessStartInfo("dotnet",
            [sluice, "serve", "--port", "0", "--served-model-name", BackendModel, "--threads", "1", "--no-warmup",
             "--kv-cache-memory", "32MiB", "--max-num-seqs", "32", "--log-level", "warning", "--shutdown-timeout", "0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start)!;
        started(process);
        _ = process.StandardError.ReadToEndAsync();
        const string Prefix = "sluice: listening on ";
        while (await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(120)) is { } line)
        {
            if (line.StartsWith(Prefix, StringComparison.Ordinal))
            {
                _ = process.StandardOutput.ReadToEndAsync();
                return (process, new Uri(line[Prefix.Length..]));
            }
        }
        throw new InvalidOperationException($"sluice serve (pid {process.Id.ToString(CultureInfo.InvariantCulture)}) exited before listening");
    }

    public Task DisposeAsync()
    {
        Stop(_processes);
        return Task.CompletedTask;
    }

    /// <summary>Kills the replicas still running (and their children), waits for them, and releases them.</summary>
    public static void Stop(IEnumerable<Process> processes)
    {
        foreach (var process in processes)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            process.WaitForExit(10_000);
            process.Dispose();
        }
    }
}

/// <summary>Alone, not beside other test classes: the shares and timings measured on the replicas need the CPU to themselves.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ReplicaCollection : ICollectionFixture<ServeReplicas>
{
    public const string Name = "sluice serve replicas";
}
