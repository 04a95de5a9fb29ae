using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Sluice.Cli.Tests.Support;

namespace Sluice.Cli.Tests.Commands;

/// <summary>
/// `sluice serve --packed-weights-cache`: two replicas of one model on the machine. The first packs and writes the
/// file, the second maps it (the same file in both processes' memory maps, read-only and shared), both answer the
/// same, and /metrics says what each did and how long each start-up phase took. The servers run without guarded
/// memory, as in production, so the file is memory-mapped.
/// </summary>
public sealed class PackedWeightsServeTests : IDisposable
{
    private readonly DirectoryInfo _cache = Directory.CreateTempSubdirectory("sluice-packed-serve-");

    public void Dispose() => _cache.Delete(recursive: true);

    [SkippableFact]
    public async Task Serve_SecondReplica_MapsTheFirstsPackedFileAndAnswersTheSame()
    {
        Skip.IfNot(System.Runtime.Intrinsics.X86.Avx2.IsSupported, "nothing packs without AVX2");
        string model = TinyModels.HeadDim32();
        await using var first = await Replica.StartAsync(model, ["--packed-weights-cache", _cache.FullName]);
        await using var second = await Replica.StartAsync(model, ["--packed-weights-cache", _cache.FullName]);

        string file = Assert.Single(Directory.GetFiles(_cache.FullName, "*.sluicepack"));
        Assert.Contains("sluice_packed_weights_cache{outcome=\"built\"} 1", await first.MetricsAsync());
        string metrics = await second.MetricsAsync();
        Assert.Contains("sluice_packed_weights_cache{outcome=\"hit\"} 1", metrics);
        foreach (string phase in new[] { "load", "pack", "warmup" })
        {
            Assert.Contains($"sluice_startup_seconds{{phase=\"{phase}\"}}", metrics);
        }
        // both processes map the one file (the first swapped its private copy for it after writing it)
        Assert.Contains(file, await File.ReadAllTextAsync($"/proc/{first.Pid}/maps"));
        Assert.Contains(file, await File.ReadAllTextAsync($"/proc/{second.Pid}/maps"));
        Assert.Equal(await first.GreedyAsync(), await second.GreedyAsync());
    }

    [SkippableFact]
    public async Task Serve_CacheOff_PacksPrivatelyAndWritesNothing()
    {
        Skip.IfNot(System.Runtime.Intrinsics.X86.Avx2.IsSupported, "nothing packs without AVX2");
        await using var replica = await Replica.StartAsync(TinyModels.HeadDim32(), ["--packed-weights-cache", "off"], cacheDir: _cache.FullName);
        Assert.Contains("sluice_packed_weights_cache{outcome=\"disabled\"} 1", await replica.MetricsAsync());
        Assert.Empty(Directory.GetFiles(_cache.FullName, "*", SearchOption.AllDirectories));
    }

    [SkippableFact]
    public async Task Serve_DefaultFolder_IsUnderSluiceCacheDir()
    {
        Skip.IfNot(System.Runtime.Intrinsics.X86.Avx2.IsSupported, "nothing packs without AVX2");
        await using var replica = await Replica.StartAsync(TinyModels.HeadDim32(), [], cacheDir: _cache.FullName);
        Assert.Contains("sluice_packed_weights_cache{outcome=\"built\"} 1", await replica.MetricsAsync());
        Assert.Single(Directory.GetFiles(Path.Combine(_cache.FullName, "packed"), "*.sluicepack"));
    }

    [Fact]
    public void Serve_EmptyCacheFolder_IsAUsageError()
    {
        var (rc, _, error) = CliRunner.Run("serve", "--packed-weights-cache", "", "--check-config");
        Assert.NotEqual(0, rc);
        Assert.Contains("--packed-weights-cache", error);
    }

    private sealed class Replica : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly HttpClient _client;

        private Replica(Process process, string url)
        {
            _process = process;
            _client = new HttpClient { BaseAddress = new Uri(url) };
        }

        public int Pid => _process.Id;

        public static async Task<Replica> StartAsync(string model, string[] flags, string? cacheDir = null)
        {
            string sluice = Path.Combine(AppContext.BaseDirectory, "sluice.dll");
            var start = new ProcessStartInfo("dotnet",
                [sluice, "serve", "--model", model, "--port", "0", "--threads", "1", "--max-num-seqs", "4", "--max-model-len", "256",
                 "--kv-cache-memory", "4MiB", "--log-level", "warning", .. flags])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.Environment["SLUICE_GUARD_MEMORY"] = "0";
            if (cacheDir is not null)
            {
                start.Environment["SLUICE_CACHE_DIR"] = cacheDir;
            }
            var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string? url = null;
            while (url == null && await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) is { } line)
            {
                const string Prefix = "sluice: listening on ";
                if (line.StartsWith(Prefix, StringComparison.Ordinal))
                {
                    url = line[Prefix.Length..];
                }
            }
            var replica = new Replica(process, url ?? throw new InvalidOperationException("sluice serve did not say where it listens: " + await stderr));
            _ = process.StandardOutput.ReadToEndAsync();
            for (int i = 0; i < 1200 && (await replica._client.GetAsync("/health/ready")).StatusCode != HttpStatusCode.OK; i++)
            {
                if (process.HasExited)
                {
                    Assert.Fail("sluice serve exited: " + await stderr);
                }
                await Task.Delay(50);
            }
            return replica;
        }

        public Task<string> MetricsAsync() => _client.GetStringAsync("/metrics");

        public async Task<string> GreedyAsync()
        {
            using var response = await _client.PostAsJsonAsync("/v1/completions", new { prompt = "packed weights", max_tokens = 12, temperature = 0 });
            response.EnsureSuccessStatusCode();
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return body.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
        }

        public async ValueTask DisposeAsync()
        {
            _client.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
        }
    }
}
