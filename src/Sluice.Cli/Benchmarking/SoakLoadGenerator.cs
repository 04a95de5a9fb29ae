using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Sluice.OpenAi;

namespace Sluice.Cli.Benchmarking;

/// <summary>What `sluice bench soak` runs: against which server, for how long, how hard.</summary>
internal sealed record SoakSettings(Uri Url, string Model, TimeSpan Duration, int Concurrency, int Seed, TimeSpan RequestTimeout, int MaxModelLen);

/// <summary>How one soak request ended, as the client saw it.</summary>
internal enum SoakOutcome
{
    /// <summary>A complete 2xx answer.</summary>
    Ok,

    /// <summary>A 4xx status, or a 4xx-type error event in a stream.</summary>
    ClientError,

    /// <summary>A 5xx status, or a server_error event in a stream.</summary>
    ServerError,

    /// <summary>The client walked away as planned.</summary>
    Cancelled,

    /// <summary>The connection failed (reset, refused, a stream cut short) or the answer was malformed.</summary>
    TransportError,

    /// <summary>No complete answer within the per-request timeout.</summary>
    Hang,
}

/// <summary>One finished soak request. Times in seconds from the start of the run.</summary>
internal readonly record struct SoakResult(SoakKind Kind, SoakOutcome Outcome, int Status, double Start, double End, string? Error, bool Refused = false)
{
    public double LatencyMs => (End - Start) * 1000;
}

/// <summary>
/// Runs --concurrency workers for --duration, each sending one <see cref="SoakMix"/> request after another (each
/// worker its own seeded generator), and classifies every answer. A connection refused after the server had been up
/// is checked with GET /health/live: if that is refused too, the server has died and the run stops.
/// </summary>
internal sealed class SoakLoadGenerator(HttpClient http, SoakSettings settings)
{
    private const int MaxErrorBody = 4096;

    private readonly ConcurrentQueue<SoakResult> _results = new();
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly SemaphoreSlim _probe = new(1, 1);
    private double _diedAt = -1;

    public IReadOnlyCollection<SoakResult> Results => _results;

    /// <summary>Seconds into the run when the server was found dead; null while it lives.</summary>
    public double? DiedAfter => Volatile.Read(ref _diedAt) is var d && d >= 0 ? d : null;

    public double Elapsed => Stopwatch.GetElapsedTime(_start).TotalSeconds;

    public async Task RunAsync(Action<SoakResult>? finished, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(settings.Duration);
        var workers = Enumerable.Range(0, settings.Concurrency).Select(w => Task.Run(async () =>
        {
            var mix = new SoakMix(new Random(unchecked((settings.Seed * 7919) + w)), settings.Model, settings.MaxModelLen);
            while (!stop.IsCancellationRequested)
            {
                var result = await SendAsync(mix.Next(), ct);
                _results.Enqueue(result);
                finished?.Invoke(result);
                if (result.Refused && await ServerDiedAsync())
                {
                    await stop.CancelAsync();
                }
            }
        }, CancellationToken.None)).ToList();
        await Task.WhenAll(workers);
    }

    private async Task<SoakResult> SendAsync(SoakRequest request, CancellationToken ct)
    {
        double start = Elapsed;
        using var timeout = new CancellationTokenSource(settings.RequestTimeout);
        using var ours = new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, ours.Token, ct);
        if (request.CancelAfterMs >= 0)
        {
            ours.CancelAfter(request.CancelAfterMs);
        }
        SoakResult Result(SoakOutcome outcome, int status = 0, string? error = null, bool refused = false) =>
            new(request.Kind, outcome, status, start, Elapsed, error is null ? null : $"{request.Label}: {error}", refused);
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(settings.Url, request.Path)) { Content = new ByteArrayContent(request.Body) };
            message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, linked.Token);
            int status = (int)response.StatusCode;
            if (status >= 400)
            {
                string text = await ReadBoundedAsync(response, linked.Token);
                return Result(status >= 500 ? SoakOutcome.ServerError : SoakOutcome.ClientError, status, status >= 500 ? $"{status} {ErrorMessage(text)}" : null);
            }
            if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
            {
                return await ReadStreamAsync(request, response, ours, linked.Token, Result);
            }
            if (request.CancelAfterEvents >= 0)
            {
                await ours.CancelAsync();
                return Result(SoakOutcome.Cancelled);
            }
            string body = await response.Content.ReadAsStringAsync(linked.Token);
            if (!IsAnswer(body))
            {
                return Result(SoakOutcome.TransportError, status, $"a {status} whose body is not the answer: {Trim(body)}");
            }
            return Result(SoakOutcome.Ok, status);
        }
        catch (Exception ex) when (timeout.IsCancellationRequested && !ours.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            return Result(SoakOutcome.Hang, 0, $"no complete answer within {settings.RequestTimeout.TotalSeconds:0.#} s ({ex.GetType().Name})");
        }
        catch (Exception) when (ours.IsCancellationRequested || ct.IsCancellationRequested)
        {
            return Result(SoakOutcome.Cancelled);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            bool refused = ex is HttpRequestException { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionRefused } };
            return Result(SoakOutcome.TransportError, 0, Flatten(ex), refused);
        }
    }

    private async Task<SoakResult> ReadStreamAsync(SoakRequest request, HttpResponseMessage response, CancellationTokenSource ours, CancellationToken ct,
        Func<SoakOutcome, int, string?, bool, SoakResult> result)
    {
        int status = (int)response.StatusCode;
        var events = new SseReader(await response.Content.ReadAsStreamAsync(ct));
        int count = 0;
        if (request.CancelAfterEvents == 0)
        {
            await ours.CancelAsync();
            return result(SoakOutcome.Cancelled, status, null, false);
        }
        while (await events.ReadAsync(ct) is { } e)
        {
            if (e.IsDone)
            {
                return result(SoakOutcome.Ok, status, null, false);
            }
            count++;
            if (e.Data.Contains("\"error\"", StringComparison.Ordinal) && Read(e.Data)?.Error is { } error)
            {
                bool server = error.Type is "server_error" or null;
                return result(server ? SoakOutcome.ServerError : SoakOutcome.ClientError, server ? 500 : error.Type == "timeout_error" ? 408 : 400,
                    server ? $"error event in a {status} stream: {error.Message}" : null, false);
            }
            if (request.CancelAfterEvents > 0 && count >= request.CancelAfterEvents)
            {
                await ours.CancelAsync();
                return result(SoakOutcome.Cancelled, status, null, false);
            }
        }
        return result(SoakOutcome.TransportError, status, $"the stream ended without [DONE] after {count} events", false);
    }

    /// <summary>True when GET /health/live is refused too: the server is gone, not just busy. The first to see it records when.</summary>
    private async Task<bool> ServerDiedAsync()
    {
        await _probe.WaitAsync();
        try
        {
            if (DiedAfter is not null)
            {
                return true;
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                using var response = await http.GetAsync(new Uri(settings.Url, "health/live"), timeout.Token);
                return false;
            }
            catch (HttpRequestException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
            {
                Volatile.Write(ref _diedAt, Elapsed);
                return true;
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                return false;
            }
        }
        finally
        {
            _probe.Release();
        }
    }

    /// <summary>True when a whole answer is a JSON object with its choices.</summary>
    private static bool IsAnswer(string body) => Read(body)?.Choices is not null;

    /// <summary>An answer, a stream event or an error body; null when it is not JSON of that shape.</summary>
    private static ReceivedChunk? Read(string json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, OpenAiJson.Default.ReceivedChunk);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string ErrorMessage(string body) => Read(body)?.Error?.Message ?? Trim(body);

    private static async Task<string> ReadBoundedAsync(HttpResponseMessage response, CancellationToken ct)
    {
        using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[MaxErrorBody];
        int total = 0, read;
        while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), ct)) > 0)
        {
            total += read;
        }
        return Encoding.UTF8.GetString(buffer, 0, total);
    }

    private static string Trim(string text) => text.Length > 200 ? text[..200] + "..." : text;

    private static string Flatten(Exception ex)
    {
        var parts = new List<string>();
        for (var e = ex; e != null; e = e.InnerException)
        {
            parts.Add(e.Message);
        }
        return string.Join(" <- ", parts.Distinct());
    }
}
