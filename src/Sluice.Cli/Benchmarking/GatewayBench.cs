using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Sluice.OpenAi;

namespace Sluice.Cli.Benchmarking;

/// <summary>What `sluice bench gateway` runs: the rate, how long, streams or not, the fake backend's stream shape, the
/// closed-loop search for the maximum rate, and the gateway it starts (an own config file, extra flags, a key to send).</summary>
internal sealed record GatewayBenchSettings(double Rate, TimeSpan Duration, TimeSpan Warmup, bool Stream)
{
    public int Chunks { get; init; } = 8;
    public TimeSpan ChunkGap { get; init; } = TimeSpan.FromMilliseconds(5);
    public bool FindMax { get; init; }
    public TimeSpan StepDuration { get; init; } = TimeSpan.FromSeconds(3);
    public int MaxConcurrency { get; init; } = 256;
    public string? GatewayConfig { get; init; }
    public IReadOnlyList<string> GatewayArgs { get; init; } = [];
    public string? ApiKey { get; init; }

    /// <summary>--virtual-key: the fields of a virtual key (POST /admin/keys) the bench creates on the gateway it starts and sends.</summary>
    public string? VirtualKey { get; init; }
    /// <summary>--cache: memory or redis: the built-in config gets a response cache and every request is the same
    /// deterministic one (temperature 0), so every request through the gateway after the first is a hit. Null: no cache.</summary>
    public string? Cache { get; init; }

    /// <summary>--cache-redis: the Redis of --cache redis (host:port).</summary>
    public string? CacheRedis { get; init; }

    /// <summary>--pacing timer: the open loop waits with Task.Delay, whose 1 ms timer steps send requests in bunches (how
    /// the bench sent before <see cref="Pacer"/>; for comparing with figures taken then). False (exact): one every 1/rate s.</summary>
    public bool TimerPacing { get; init; }
}

/// <summary>One request's outcome: whether it was a full answer (200; a stream ending in [DONE]), its time in seconds from
/// sending to the last byte, and for streams the time to the first chunk and the gaps between chunks.</summary>
internal readonly record struct BenchSample(bool Ok, double Latency, double Ttft, double[] Gaps, bool Hit = false);

/// <summary>One phase (direct or through the gateway): its samples and how long it took.</summary>
internal sealed record BenchPhase(IReadOnlyList<BenchSample> Samples, double Seconds)
{
    public int Errors => Samples.Count(s => !s.Ok);
    public double[] Sorted(Func<BenchSample, IEnumerable<double>> pick) => [.. Samples.Where(s => s.Ok).SelectMany(pick).Order()];
}

/// <summary>
/// `sluice bench gateway`: starts the fake backend in this process and a real `sluice gateway` as a child process in front
/// of it, then sends the same open-loop load (requests at fixed intervals, whether or not earlier ones have answered)
/// first straight to the backend, then through the gateway. The difference is the gateway's cost; its process's CPU time
/// and resident memory are read from the operating system.
/// </summary>
internal sealed class GatewayBench(GatewayBenchSettings settings, TextWriter progress)
{
    private static readonly byte[] WholeBody = Encoding.UTF8.GetBytes("""{"model":"bench","prompt":"hello bench","max_tokens":8,"stream":false}""");
    private static readonly byte[] StreamBody = Encoding.UTF8.GetBytes("""{"model":"bench","prompt":"hello bench","max_tokens":8,"stream":true}""");
    private static readonly byte[] CachedWholeBody = Encoding.UTF8.GetBytes("""{"model":"bench","prompt":"hello bench","max_tokens":8,"temperature":0,"stream":false}""");
    private static readonly byte[] CachedStreamBody = Encoding.UTF8.GetBytes("""{"model":"bench","prompt":"hello bench","max_tokens":8,"temperature":0,"stream":true}""");

    private byte[] Body => (settings.Cache is not null, settings.Stream) switch
    {
        (false, false) => WholeBody,
        (false, true) => StreamBody,
        (true, false) => CachedWholeBody,
        (true, true) => CachedStreamBody,
    };

    public async Task<GatewayBenchReport> RunAsync(CancellationToken ct)
    {
        await using var backend = await FakeOpenAiBackend.StartAsync(settings.Chunks, settings.ChunkGap);
        string dir = Directory.CreateTempSubdirectory("sluice-bench-gateway-").FullName;
        try
        {
            string config = Path.Combine(dir, "gateway.yaml");
            await File.WriteAllTextAsync(config, ConfigText(backend.Url), ct);
            // with --virtual-key the gateway gets a master key of the bench's own, to create the key through its admin API
            string master = "sk-bench-master-" + Guid.NewGuid().ToString("N");
            IReadOnlyList<string> args = settings.VirtualKey is null ? settings.GatewayArgs : [.. settings.GatewayArgs, "--master-key", master];
            await using var gateway = await GatewayProcess.StartAsync(config, args, ct);
            using var http = Client();
            string? apiKey = settings.VirtualKey is { } fields ? await CreateKeyAsync(http, gateway.Url, master, fields, ct) : settings.ApiKey;
            string? metricsKey = settings.VirtualKey is null ? settings.ApiKey : master; // a gateway with a master key may want it for /metrics
            var direct = new Uri(backend.Url, "v1/completions");
            var through = new Uri(gateway.Url, "v1/completions");
            progress.WriteLine($"sluice bench gateway: fake backend {backend.Url}, gateway {gateway.Url} (pid {gateway.Pid}); {settings.Rate:0.##} requests/s for {settings.Duration.TotalSeconds:0.###} s each way{(settings.Stream ? ", streamed" : "")}");

            await OpenLoopAsync(http, direct, null, settings.Warmup, ct);
            var ownDirectBefore = OwnCpuTime();
            var directPhase = await OpenLoopAsync(http, direct, null, settings.Duration, ct);
            var ownDirect = OwnCpuTime() - ownDirectBefore;
            await OpenLoopAsync(http, through, apiKey, settings.Warmup, ct);
            double? allocatedBefore = await AllocatedAsync(http, gateway.Url, metricsKey, ct);
            var cpuBefore = gateway.CpuTime();
            var ownBefore = OwnCpuTime();
            var gatewayPhase = await OpenLoopAsync(http, through, apiKey, settings.Duration, ct);
            var cpu = gateway.CpuTime() - cpuBefore;
            var own = OwnCpuTime() - ownBefore;
            double? allocatedAfter = await AllocatedAsync(http, gateway.Url, metricsKey, ct);
            var (rss, peak) = gateway.Memory();

            IReadOnlyList<MaxStep> steps = settings.FindMax ? await FindMaxAsync(http, through, apiKey, ct) : [];
            var cost = new GatewayCost(cpu, allocatedAfter - allocatedBefore, own, ownDirect, rss, peak);
            return GatewayBenchReport.From(settings, directPhase, gatewayPhase, cost, steps);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The built-in config (one model, "bench", on the fake backend), or --gateway-config with {backend} replaced.</summary>
    private string ConfigText(Uri backend)
    {
        string url = backend.GetLeftPart(UriPartial.Authority);
        if (settings.GatewayConfig is { } path)
        {
            string text = File.ReadAllText(path);
            if (!text.Contains("{backend}", StringComparison.Ordinal))
            {
                throw new CommandException($"--gateway-config {path}: it must route model 'bench' to the fake backend: write {{backend}} where its URL goes",
                    "e.g. deployments: [{url: '{backend}', model: bench, kind: openai}]");
            }
            return text.Replace("{backend}", url, StringComparison.Ordinal);
        }
        string cache = settings.Cache switch
        {
            null => "",
            "redis" => $"cache: {{type: redis, redis: '{settings.CacheRedis}', namespace: 'sluice-bench-{Guid.NewGuid():N}'}}\n",
            _ => "cache: {type: memory}\n",
        };
        return $"models:\n  - name: bench\n    deployments:\n      - {{url: '{url}', model: bench, kind: openai}}\nhealth:\n  interval: 10s\n" + cache;
    }

    /// <summary>Creates the --virtual-key key through the gateway's admin API; its secret.</summary>
    private static async Task<string> CreateKeyAsync(HttpClient http, Uri gateway, string master, string fields, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway, "admin/keys")) { Content = new StringContent(fields, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", master);
        using var response = await http.SendAsync(request, ct);
        string body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new CommandException($"--virtual-key: the gateway refused the key ({(int)response.StatusCode}): {body}",
                "the gateway config needs a tenancy: section, and the fields are POST /admin/keys's (docs/tenancy.md)");
        }
        return System.Text.Json.Nodes.JsonNode.Parse(body)?["key"]?.GetValue<string>()
            ?? throw new CommandException($"--virtual-key: the gateway's answer has no key: {body}");
    }

    /// <summary>This process's CPU time: the load generator's and the fake backend's together.</summary>
    private static TimeSpan OwnCpuTime()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    /// <summary>The gateway's managed allocations since its start (sluice_gc_allocated_bytes_total on its /metrics); null when
    /// it cannot be read (a key the load generator does not have, say).</summary>
    private static async Task<double?> AllocatedAsync(HttpClient http, Uri gateway, string? key, CancellationToken ct)
    {
        const string Name = "sluice_gc_allocated_bytes_total ";
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway, "metrics"));
            if (key is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }
            using var response = await http.SendAsync(request, ct);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }
            string text = await response.Content.ReadAsStringAsync(ct);
            string? line = text.Split('\n').FirstOrDefault(l => l.StartsWith(Name, StringComparison.Ordinal));
            return line is not null && double.TryParse(line.AsSpan(Name.Length), NumberStyles.Float, CultureInfo.InvariantCulture, out double bytes) ? bytes : null;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return null;
        }
    }

    private static HttpClient Client() => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = int.MaxValue,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        UseProxy = false,
        ConnectTimeout = TimeSpan.FromSeconds(10),
    })
    { Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>Requests at 1/rate intervals for <paramref name="duration"/>, each sent when due whatever the others are doing:
    /// a thread of its own sleeps to each one's time (<see cref="Pacer"/>) and starts it (--pacing timer: Task.Delay on
    /// this task instead); the answers are awaited after.</summary>
    private async Task<BenchPhase> OpenLoopAsync(HttpClient http, Uri url, string? apiKey, TimeSpan duration, CancellationToken ct)
    {
        long count = (long)Math.Round(settings.Rate * duration.TotalSeconds);
        var tasks = new List<Task<BenchSample>>((int)Math.Min(count, 10_000_000));
        long start = Stopwatch.GetTimestamp();
        if (settings.TimerPacing)
        {
            for (long i = 0; i < count; i++)
            {
                double wait = i / settings.Rate - Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (wait > 0.001)
                {
                    await Task.Delay(TimeSpan.FromSeconds(wait), ct);
                }
                tasks.Add(SendAsync(http, url, apiKey, ct));
            }
        }
        else
        {
            var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var sender = new Thread(() =>
            {
                try
                {
                    for (long i = 0; i < count && !ct.IsCancellationRequested; i++)
                    {
                        Pacer.SleepUntil(start + (long)(i / settings.Rate * Stopwatch.Frequency));
                        tasks.Add(SendAsync(http, url, apiKey, ct));
                    }
                    sent.SetResult();
                }
                catch (Exception e)
                {
                    sent.SetException(e);
                }
            })
            { IsBackground = true, Name = "bench open loop" };
            sender.Start();
            await sent.Task;
            ct.ThrowIfCancellationRequested();
        }
        var samples = await Task.WhenAll(tasks);
        return new BenchPhase(samples, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    public sealed record MaxStep(int Concurrency, double RequestsPerSecond, int Errors, double HitsPerSecond = 0);

    /// <summary>Closed loop through the gateway: 1, 2, 4, ... clients each sending its next request when the last answered,
    /// a step each; it stops when a step has errors, gains under 5 % or reaches --max-concurrency.</summary>
    private async Task<IReadOnlyList<MaxStep>> FindMaxAsync(HttpClient http, Uri url, string? apiKey, CancellationToken ct)
    {
        var steps = new List<MaxStep>();
        double best = 0;
        for (int c = 1; c <= settings.MaxConcurrency; c *= 2)
        {
            using var stop = new CancellationTokenSource(settings.StepDuration);
            long start = Stopwatch.GetTimestamp();
            var workers = Enumerable.Range(0, c).Select(_ => Task.Run(async () =>
            {
                int ok = 0, errors = 0, hits = 0;
                while (!stop.IsCancellationRequested)
                {
                    var s = await SendAsync(http, url, apiKey, ct);
                    (ok, errors) = s.Ok ? (ok + 1, errors) : (ok, errors + 1);
                    hits += s.Ok && s.Hit ? 1 : 0;
                }
                return (ok, errors, hits);
            }, ct)).ToList();
            var counts = await Task.WhenAll(workers);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            var step = new MaxStep(c, counts.Sum(x => x.ok) / seconds, counts.Sum(x => x.errors), counts.Sum(x => x.hits) / seconds);
            steps.Add(step);
            string hits = settings.Cache is null ? "" : string.Create(CultureInfo.InvariantCulture, $", {step.HitsPerSecond:0} cache hits/s");
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"find-max: {c} clients: {step.RequestsPerSecond:0} requests/s, {step.Errors} errors{hits}"));
            if (step.Errors > 0 || step.RequestsPerSecond < best * 1.05)
            {
                break;
            }
            best = step.RequestsPerSecond;
        }
        return steps;
    }

    private async Task<BenchSample> SendAsync(HttpClient http, Uri url, string? apiKey, CancellationToken ct)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(Body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            if (apiKey is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            }
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            bool hit = response.Headers.TryGetValues("x-sluice-cache", out var cache) && cache.Contains("hit");
            if (!settings.Stream)
            {
                await response.Content.CopyToAsync(Stream.Null, ct);
                return new BenchSample(response.IsSuccessStatusCode, Stopwatch.GetElapsedTime(start).TotalSeconds, 0, [], hit);
            }
            var reader = new SseReader(await response.Content.ReadAsStreamAsync(ct));
            double ttft = -1, last = 0;
            var gaps = new List<double>(settings.Chunks);
            bool done = false;
            while (await reader.ReadAsync(ct) is { } e)
            {
                double now = Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (e.Data == "[DONE]")
                {
                    done = true;
                    break;
                }
                if (ttft < 0)
                {
                    ttft = now;
                }
                else
                {
                    gaps.Add(now - last);
                }
                last = now;
            }
            return new BenchSample(response.IsSuccessStatusCode && done && ttft >= 0, Stopwatch.GetElapsedTime(start).TotalSeconds, ttft, [.. gaps], hit);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return new BenchSample(false, Stopwatch.GetElapsedTime(start).TotalSeconds, 0, []);
        }
    }
}

/// <summary>`sluice gateway` as a child process (the same executable), its address read from its first output line.</summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;

    private GatewayProcess(Process process, Uri url)
    {
        _process = process;
        Url = url;
    }

    public Uri Url { get; }
    public int Pid => _process.Id;

    public static async Task<GatewayProcess> StartAsync(string config, IReadOnlyList<string> extra, CancellationToken ct)
    {
        var (file, prefix) = Self();
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in prefix.Concat(["gateway", "--config", config, "--port", "0", "--log-level", "warning"]).Concat(extra))
        {
            info.ArgumentList.Add(arg);
        }
        var process = Process.Start(info) ?? throw new CommandException("could not start `sluice gateway`");
        var stderr = process.StandardError.ReadToEndAsync(ct);
        const string Prefix = "sluice gateway: listening on ";
        try
        {
            while (await process.StandardOutput.ReadLineAsync(ct).AsTask().WaitAsync(TimeSpan.FromSeconds(60), ct) is { } line)
            {
                if (line.StartsWith(Prefix, StringComparison.Ordinal))
                {
                    _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
                    return new GatewayProcess(process, new Uri(line[Prefix.Length..].TrimEnd('/') + "/"));
                }
            }
        }
        catch (TimeoutException)
        {
        }
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }
        await process.WaitForExitAsync(CancellationToken.None);
        string why = (await stderr).Trim();
        process.Dispose();
        throw new CommandException($"`sluice gateway` did not start: {(why.Length > 0 ? why : "no output")}", "check --gateway-config and --gateway-arg");
    }

    /// <summary>How to run this same `sluice`: its apphost, or `dotnet sluice.dll`.</summary>
    private static (string File, string[] Prefix) Self()
    {
        string? host = Environment.ProcessPath;
        if (host is not null && Path.GetFileNameWithoutExtension(host) == "sluice")
        {
            return (host, []);
        }
        string dll = typeof(GatewayProcess).Assembly.Location;
        string dotnet = host is not null && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet";
        return (dotnet, [dll]);
    }

    public TimeSpan CpuTime()
    {
        _process.Refresh();
        return _process.TotalProcessorTime;
    }

    public (long Rss, long Peak) Memory()
    {
        _process.Refresh();
        return (_process.WorkingSet64, _process.PeakWorkingSet64);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync(CancellationToken.None);
        _process.Dispose();
    }
}
