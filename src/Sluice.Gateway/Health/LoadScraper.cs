using Microsoft.Extensions.Hosting;
using Sluice.Gateway.Routing;
using Sluice.Hosting.Metrics.Parsing;

namespace Sluice.Gateway.Health;

/// <summary>
/// Reads each backend's own load from its <c>/metrics</c> every routing.load_scrape: its waiting queue and KV-cache usage
/// (<c>sluice_requests_waiting</c> / <c>sluice_kv_cache_usage_ratio</c>, or vLLM's <c>vllm:num_requests_waiting</c> /
/// <c>vllm:kv_cache_usage_perc</c>), parsed with the hosting layer's Prometheus text parser. A backend without them (or
/// whose scrape fails) has no load reading and is balanced by in-flight counts alone.
/// </summary>
internal sealed class LoadScraper(Router router, TimeProvider time) : BackgroundService
{
    private readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false });

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var config = router.Snapshot.Config;
            if (config.Routing.LoadScrape is { } interval)
            {
                await Task.WhenAll(router.Backends.All.Select(b => ScrapeAsync(b, config.Health.Timeout, stoppingToken)));
                await Task.Delay(interval, time, stoppingToken);
            }
            else
            {
                await Task.Delay(TimeSpan.FromSeconds(1), time, stoppingToken);
            }
        }
    }

    private async Task ScrapeAsync(BackendState backend, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            using var response = await _client.GetAsync(new Uri(backend.Url, "metrics"), cts.Token);
            if (!response.IsSuccessStatusCode)
            {
                backend.SetLoad(null);
                return;
            }
            var snapshot = MetricSnapshot.Parse(await response.Content.ReadAsStringAsync(cts.Token));
            string? waiting = new[] { "sluice_requests_waiting", "vllm:num_requests_waiting" }.FirstOrDefault(snapshot.Has);
            string? kv = new[] { "sluice_kv_cache_usage_ratio", "vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc" }.FirstOrDefault(snapshot.Has);
            backend.SetLoad(waiting is null && kv is null ? null
                : new BackendLoad(waiting is null ? 0 : snapshot.Sum(waiting), kv is null ? 0 : snapshot.Sum(kv)));
        }
        catch (Exception ex) when (ex is HttpRequestException or FormatException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            backend.SetLoad(null);
        }
    }

    public override void Dispose()
    {
        _client.Dispose();
        base.Dispose();
    }
}

/// <summary>A backend's own load as its /metrics last said: requests waiting in its queue, KV-cache usage (0 to 1).</summary>
public sealed record BackendLoad(double Waiting, double KvUsage);
