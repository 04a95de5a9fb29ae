using System.Text;

namespace Sluice.Cli.Tests.Diagnosis;

/// <summary>Keeps a number of clients sending requests to a server until stopped; failures are part of some workloads.</summary>
internal sealed class Workload : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly HttpClient _http;
    private readonly Task[] _workers;
    private int _sent;

    public Workload(Uri server, int clients, Func<int, string> body)
    {
        _http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromMinutes(2) };
        _workers = [.. Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                int n = Interlocked.Increment(ref _sent);
                try
                {
                    using var response = await _http.PostAsync("/v1/completions", new StringContent(body(n), Encoding.UTF8, "application/json"), _stop.Token);
                    await response.Content.ReadAsStringAsync(_stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }))];
    }

    public int Sent => Volatile.Read(ref _sent);

    /// <summary>Waits until at least this many requests have been sent, so the server is busy before the doctor looks.</summary>
    public async Task WarmAsync(int requests)
    {
        for (int i = 0; i < 500 && Sent < requests; i++)
        {
            await Task.Delay(10);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await Task.WhenAll(_workers);
        _http.Dispose();
        _stop.Dispose();
    }
}
