using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Sluice.Gateway.Tenancy.Storage;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Tenancy.Spend;

/// <summary>
/// `sluice gateway` processes SIGKILLed mid-load, again and again, and restarted on the same store: every request whose
/// response completed at the client (a whole JSON body, a stream up to [DONE]) has its row, with the backend's exact
/// usage and spend. Rows of requests cut by the kill may be there or not; none is there twice. A row in the spend journal
/// when its gateway was killed reaches the database when a gateway is next started on that journal folder (the last
/// round restarts one and drains it).
/// </summary>
public sealed class SpendKillTests : IAsyncLifetime
{
    private const string Master = "spend-kill-master-key";

    private FaultyBackend _backend = null!;

    public async Task InitializeAsync() => _backend = await FaultyBackend.StartAsync();

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    [SkippableFact]
    public async Task Sqlite_SigkillMidLoadRepeatedly_EveryCompletedResponseHasItsRow()
    {
        var folder = Directory.CreateTempSubdirectory("sluice-spend-kill-");
        try
        {
            await KillRepeatedlyAsync(Path.Combine(folder.FullName, "gateway.db"));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [SkippableFact]
    public async Task Postgres_SigkillMidLoadRepeatedly_EveryCompletedResponseHasItsRow()
    {
        await using var postgres = await PostgresServer.StartNewAsync();
        await KillRepeatedlyAsync(await postgres.CreateDatabaseAsync());
    }

    private async Task KillRepeatedlyAsync(string database)
    {
        string config = Path.GetTempFileName();
        await File.WriteAllTextAsync(config, $"models:\n  - name: m\n    deployments:\n      - {{url: '{_backend.Url}', model: delay-5, kind: openai, "
            + $"input_cost_per_token: 0.000001, output_cost_per_token: 0.000003}}\ntenancy:\n  database: '{database}'\n");
        var completed = new ConcurrentDictionary<string, bool>(); // request id -> streamed
        for (int round = 0; round < 3; round++)
        {
            var (process, url) = await StartAsync(config);
            using (process)
            {
                using var stop = new CancellationTokenSource();
                var clients = Enumerable.Range(0, 6).Select(c => LoadAsync(url, $"r{round}-c{c}", completed, stop.Token)).ToList();
                // load until a good number completed in this round, then kill the process under it
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (completed.Keys.Count(k => k.StartsWith($"r{round}-", StringComparison.Ordinal)) < 40 && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(20);
                }
                process.Kill();
                await process.WaitForExitAsync();
                await stop.CancelAsync();
                await Task.WhenAll(clients);
            }
        }
        Assert.True(completed.Count >= 120, $"only {completed.Count} requests completed");
        // the last kill left rows in its spend journal that may not have reached the database: a restart replays them,
        // and a drain (SIGTERM) leaves nothing behind
        var (last, _) = await StartAsync(config);
        using (last)
        {
            using var term = Process.Start("kill", ["-TERM", last.Id.ToString(CultureInfo.InvariantCulture)])!;
            await term.WaitForExitAsync();
            await last.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        if (!database.Contains("Host=", StringComparison.Ordinal))
        {
            Assert.Empty(Directory.GetDirectories(database + "-spend-journal"));
        }

        await using var store = TenancyDatabase.Open(database);
        await using var connection = await store.OpenConnectionAsync();
        var rows = new Dictionary<string, (long Prompt, long Completion, long Spend, long Count)>();
        await using (var command = TenancyDatabase.Command(connection, null,
            "SELECT request_id, MIN(prompt_tokens), MIN(completion_tokens), MIN(spend_pico), COUNT(*) FROM spend_log GROUP BY request_id"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows[reader.GetString(0)] = (Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture), Convert.ToInt64(reader.GetValue(2), CultureInfo.InvariantCulture),
                    Convert.ToInt64(reader.GetValue(3), CultureInfo.InvariantCulture), Convert.ToInt64(reader.GetValue(4), CultureInfo.InvariantCulture));
            }
        }
        var missing = completed.Keys.Where(id => !rows.ContainsKey(id)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {completed.Count} completed requests have no row: {string.Join(", ", missing.Take(5))}");
        foreach (var (id, streamed) in completed)
        {
            var row = rows[id];
            long completion = streamed ? 6 : 1;
            Assert.Equal((1L, completion, 1_000_000L + (completion * 3_000_000L), 1L), row);
        }
        File.Delete(config);
    }

    private static async Task LoadAsync(Uri url, string prefix, ConcurrentDictionary<string, bool> completed, CancellationToken stop)
    {
        using var client = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Master);
        for (int n = 0; !stop.IsCancellationRequested; n++)
        {
            string id = $"{prefix}-{n}";
            bool stream = n % 2 == 1;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
                {
                    Content = Requests.Json($$"""{"model": "m", "prompt": "x", "stream": {{(stream ? "true" : "false")}}}"""),
                };
                request.Headers.Add("X-Request-Id", id);
                using var response = await client.SendAsync(request, stop);
                string body = await response.Content.ReadAsStringAsync(stop);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    continue;
                }
                bool whole = stream ? body.TrimEnd().EndsWith("data: [DONE]", StringComparison.Ordinal) : IsJson(body);
                if (whole)
                {
                    completed[id] = stream;
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
            {
                if (stop.IsCancellationRequested)
                {
                    return;
                }
                await Task.Delay(10, CancellationToken.None); // the process is gone: until the test stops this round
            }
        }
    }

    private static bool IsJson(string body)
    {
        try
        {
            return JsonDocument.Parse(body).RootElement.TryGetProperty("choices", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static async Task<(Process Process, Uri Url)> StartAsync(string config)
    {
        var start = new ProcessStartInfo("dotnet",
            [Path.Combine(AppContext.BaseDirectory, "sluice.dll"), "gateway", "--config", config, "--port", "0", "--log-level", "warning", "--master-key", Master])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        while (await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(90)) is { } line)
        {
            const string Prefix = "sluice gateway: listening on ";
            if (line.StartsWith(Prefix, StringComparison.Ordinal))
            {
                _ = process.StandardOutput.ReadToEndAsync();
                return (process, new Uri(line[Prefix.Length..]));
            }
        }
        throw new InvalidOperationException($"sluice gateway exited ({(process.HasExited ? process.ExitCode : -1)}) before listening");
    }
}
