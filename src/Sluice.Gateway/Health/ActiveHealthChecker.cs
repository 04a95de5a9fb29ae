using Microsoft.Extensions.Hosting;
using Sluice.Gateway.Routing;

namespace Sluice.Gateway.Health;

/// <summary>
/// Probes every backend's readiness path (/health/ready for sluice serve, /health for others: never a completion)
/// each health.interval; a failed or slow check takes the backend out of routing until one passes, and a passing
/// check closes a circuit whose open time is over.
/// </summary>
internal sealed class ActiveHealthChecker(Router router, TimeProvider time) : BackgroundService
{
    private readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false });

    public async Task CheckAllAsync(CancellationToken cancellationToken)
    {
        var settings = router.Snapshot.Config;
        await Task.WhenAll(router.Backends.All.Select(b => CheckAsync(b, settings, cancellationToken)));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await CheckAllAsync(stoppingToken);
            await Task.Delay(router.Snapshot.Config.Health.Interval, time, stoppingToken);
        }
    }

    private async Task CheckAsync(BackendState backend, Configuration.GatewayConfig config, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(config.Health.Timeout);
        try
        {
            using var response = await _client.GetAsync(new Uri(backend.Url, backend.HealthPath.TrimStart('/')), timeout.Token);
            backend.CheckResult(response.IsSuccessStatusCode, $"status {(int)response.StatusCode}", config.Breaker);
        }
        catch (Exception ex) when (ex is HttpRequestException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            backend.CheckResult(false, ex is OperationCanceledException ? $"no answer within {config.Health.Timeout.TotalSeconds} s" : ex.Message, config.Breaker);
        }
    }

    public override void Dispose()
    {
        _client.Dispose();
        base.Dispose();
    }
}
