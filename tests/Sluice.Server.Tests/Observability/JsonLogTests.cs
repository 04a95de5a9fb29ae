using System.Text.Json;
using Sluice.Hosting.Logging;
using Sluice.Server.Observability;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Observability;

/// <summary>--log-format json: one JSON object per line, one line per request with its id, and model load/unload events.</summary>
public sealed class JsonLogTests
{
    private sealed class LockedWriter : StringWriter
    {
        public override string ToString()
        {
            lock (this)
            {
                return base.ToString();
            }
        }

        public override void Write(char value)
        {
            lock (this)
            {
                base.Write(value);
            }
        }

        public override void Write(string? value)
        {
            lock (this)
            {
                base.Write(value);
            }
        }
    }

    [Fact]
    public async Task EachRequest_LogsOneJsonLine_WithTheGatewaysRequestIdTokensAndPhases()
    {
        var output = new LockedWriter();
        var hooks = SluiceObservability.Hooks(new ObservabilityOptions { LogFormat = LogFormat.Json, LogOutput = output });
        var t = await TestServer.StartAsync(hooks: hooks);
        await using (t)
        {
            var ok = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent("""{"prompt": "log me", "max_tokens": 4, "ignore_eos": true}""") };
            ok.Headers.Add("X-Request-Id", "gw-123");
            Assert.True((await t.Client.SendAsync(ok)).IsSuccessStatusCode);
            var bad = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent("""{"prompt": "x", "temperature": "hot"}""") };
            bad.Headers.Add("X-Request-Id", "gw-bad");
            await t.Client.SendAsync(bad);
        }

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(lines, l => Assert.True(l.TryGetProperty("timestamp", out _) && l.TryGetProperty("level", out _) && l.TryGetProperty("message", out _)));
        var requests = lines.Where(l => l.GetProperty("event_id").GetInt32() is 300 or 301).ToList();
        Assert.Equal(2, requests.Count);

        var r = requests.Single(l => l.GetProperty("request_id").GetString() == "gw-123");
        Assert.Equal("info", r.GetProperty("level").GetString());
        Assert.Equal("/v1/completions", r.GetProperty("route").GetString());
        Assert.Equal(200, r.GetProperty("status").GetInt32());
        Assert.Equal("completed", r.GetProperty("outcome").GetString());
        Assert.Equal(4, r.GetProperty("completion_tokens").GetInt32());
        Assert.Equal("length", r.GetProperty("finish_reasons").GetString());
        Assert.True(r.GetProperty("prompt_tokens").GetInt32() > 0);
        Assert.Equal(t.Server.Host.Name, r.GetProperty("model").GetString());
        foreach (var phase in new[] { "queue_ms", "prefill_ms", "decode_ms", "ttft_ms", "duration_ms" })
        {
            Assert.True(r.GetProperty(phase).GetDouble() >= 0, phase);
        }
        Assert.Equal(300, r.GetProperty("event_id").GetInt32());
        Assert.False(r.TryGetProperty("error", out _), "a request without an error has no error field");

        var rejected = requests.Single(l => l.GetProperty("request_id").GetString() == "gw-bad");
        Assert.Equal(301, rejected.GetProperty("event_id").GetInt32());
        Assert.Equal(400, rejected.GetProperty("status").GetInt32());
        Assert.Equal("rejected", rejected.GetProperty("outcome").GetString());
        Assert.Contains("temperature", rejected.GetProperty("error").GetString());
        Assert.Equal(JsonValueKind.Null, rejected.GetProperty("queue_ms").ValueKind);

        var loading = lines.Single(l => l.GetProperty("event_id").GetInt32() == 8);
        Assert.StartsWith("model loading: ", loading.GetProperty("message").GetString());
        var loaded = lines.Single(l => l.GetProperty("event_id").GetInt32() == 1);
        Assert.StartsWith("model loaded: " + t.Server.Host.Name, loaded.GetProperty("message").GetString());
        Assert.Equal("model_loaded", loaded.GetProperty("event").GetString());
        Assert.Equal(t.Server.Host.Name, loaded.GetProperty("model").GetString());
        Assert.True(loaded.GetProperty("seconds").GetDouble() > 0);
        var unloaded = lines.Single(l => l.GetProperty("event_id").GetInt32() == 6);
        Assert.Equal("model_unloaded", unloaded.GetProperty("event").GetString());
        Assert.Equal(t.Server.Host.Name, unloaded.GetProperty("model").GetString());
    }
}
