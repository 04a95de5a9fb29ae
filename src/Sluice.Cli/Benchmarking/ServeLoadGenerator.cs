using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Sluice.OpenAi;

namespace Sluice.Cli.Benchmarking;

/// <summary>What `sluice bench serve` sends: streaming requests of fixed input and output lengths.</summary>
internal sealed record LoadSettings(Uri Url, string Model, string Endpoint, int Concurrency, int OutputLen, double RequestRate, int Seed)
{
    /// <summary>A <c>response_format</c> (raw JSON) every request carries, or null.</summary>
    public string? ResponseFormat { get; init; }

    public bool Chat => Endpoint.Contains("chat", StringComparison.Ordinal);
}

/// <summary>
/// A load generator like `vllm bench serve`: each prompt as one streaming request (ignore_eos, greedy,
/// include_usage), at most --concurrency in flight, arrivals Poisson at --request-rate (all at once when
/// infinite); for each it times the first text chunk, the gaps between chunks and the end.
/// </summary>
internal sealed class ServeLoadGenerator(HttpClient http, LoadSettings settings)
{
    public async Task<RequestResult[]> RunAsync(string[] prompts, Action<RequestResult> finished, CancellationToken ct)
    {
        var rng = new Random(settings.Seed);
        var slots = new SemaphoreSlim(settings.Concurrency); // not disposed: continuations may still release it after a cancellation
        var tasks = new List<Task<RequestResult>>(prompts.Length);
        foreach (var prompt in prompts)
        {
            await slots.WaitAsync(ct);
            tasks.Add(RunOneAsync(prompt, ct).ContinueWith(t =>
            {
                slots.Release();
                var r = t.IsCompletedSuccessfully ? t.Result : new RequestResult { Error = t.Exception?.InnerException?.Message ?? "cancelled" };
                finished(r);
                return r;
            }, TaskScheduler.Default));
            if (double.IsFinite(settings.RequestRate) && settings.RequestRate > 0)
            {
                double gap = -Math.Log(1 - rng.NextDouble()) / settings.RequestRate;
                await Task.Delay(TimeSpan.FromSeconds(gap), ct);
            }
        }
        return await Task.WhenAll(tasks);
    }

    private async Task<RequestResult> RunOneAsync(string prompt, CancellationToken ct)
    {
        long start = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(settings.Url, settings.Endpoint))
        {
            Content = new StringContent(Body(prompt), Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode)
            {
                string text = await response.Content.ReadAsStringAsync(ct);
                return new RequestResult { Error = $"HTTP {(int)response.StatusCode}: {text[..Math.Min(text.Length, 200)]}" };
            }
            var events = new SseReader(await response.Content.ReadAsStreamAsync(ct));
            double ttft = 0, last = 0;
            int chunks = 0, promptTokens = 0, outputTokens = -1;
            var itl = new List<double>();
            while (await events.ReadAsync(ct) is { } e && !e.IsDone)
            {
                double now = Stopwatch.GetElapsedTime(start).TotalSeconds;
                var chunk = JsonSerializer.Deserialize(e.Data, OpenAiJson.Default.ReceivedChunk);
                if (chunk?.Error is { } error)
                {
                    return new RequestResult { Error = error.Message };
                }
                if (chunk?.HasText == true)
                {
                    if (chunks++ == 0)
                    {
                        ttft = now;
                    }
                    else
                    {
                        itl.Add(now - last);
                    }
                    last = now;
                }
                if (chunk?.Usage is { } usage)
                {
                    promptTokens = usage.PromptTokens;
                    outputTokens = usage.CompletionTokens;
                }
            }
            return new RequestResult
            {
                Ok = chunks > 0,
                Error = chunks > 0 ? null : "the stream carried no text",
                PromptTokens = promptTokens,
                OutputTokens = outputTokens >= 0 ? outputTokens : chunks,
                Ttft = ttft,
                Itl = itl,
                E2e = Stopwatch.GetElapsedTime(start).TotalSeconds,
            };
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or JsonException or TaskCanceledException)
        {
            return new RequestResult { Error = ex.Message };
        }
    }

    private string Body(string prompt)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", settings.Model);
            WritePrompt(w, settings.Chat, prompt);
            w.WriteNumber("max_tokens", settings.OutputLen);
            w.WriteNumber("temperature", 0);
            w.WriteBoolean("ignore_eos", true);
            if (settings.ResponseFormat is { } format)
            {
                w.WritePropertyName("response_format");
                w.WriteRawValue(format);
            }
            w.WriteBoolean("stream", true);
            w.WriteStartObject("stream_options");
            w.WriteBoolean("include_usage", true);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The prompt as a chat request's one user message, or a completions request's <c>prompt</c>.</summary>
    internal static void WritePrompt(System.Text.Json.Utf8JsonWriter w, bool chat, string prompt)
    {
        if (chat)
        {
            w.WriteStartArray("messages");
            w.WriteStartObject();
            w.WriteString("role", "user");
            w.WriteString("content", prompt);
            w.WriteEndObject();
            w.WriteEndArray();
        }
        else
        {
            w.WriteString("prompt", prompt);
        }
    }
}
