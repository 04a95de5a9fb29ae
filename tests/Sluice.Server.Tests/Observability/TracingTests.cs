using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using Sluice.Hosting.Tracing;
using Sluice.Server.Observability;
using Sluice.Server.Observability.Tracing;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Observability;

/// <summary>--otlp-traces-endpoint: queue, prefill and decode spans reach a real OTLP/HTTP collector, in the caller's trace.</summary>
public sealed class TracingTests
{
    [Fact]
    public async Task GenerationRequest_ExportsQueuePrefillAndDecodeSpans_InTheCallersTrace()
    {
        await using var collector = await OtlpReceiver.StartAsync();
        var hooks = SluiceObservability.Hooks(new ObservabilityOptions { OtlpTracesEndpoint = collector.Endpoint, TraceExportInterval = TimeSpan.FromMinutes(1) });
        await using var t = await TestServer.StartAsync(hooks: hooks);
        const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent("""{"prompt": "trace me", "max_tokens": 5, "ignore_eos": true}""") };
        request.Headers.Add("X-Request-Id", "span-1");
        request.Headers.Add("traceparent", $"00-{TraceId}-00f067aa0ba902b7-01");
        Assert.True((await t.Client.SendAsync(request)).IsSuccessStatusCode);
        // the request's spans end around the response, not before it: flush until all of them have arrived
        var expected = new[] { "generate", "queue", "prefill", "decode" };
        List<OtlpSpan> spans = [];
        for (int i = 0; i < 100; i++)
        {
            Assert.True(t.Server.Services.GetRequiredService<TracerProvider>().ForceFlush(10_000));
            spans = collector.Spans.Where(s => s.TraceId == TraceId).ToList();
            var parent = spans.Where(s => s.Name == "generate").Select(s => s.ParentSpanId).FirstOrDefault();
            if (expected.All(n => spans.Any(s => s.Name == n)) && spans.Any(s => s.SpanId == parent))
            {
                break;
            }
            await Task.Delay(50);
        }
        var generate = spans.Single(s => s.Name == "generate");
        Assert.Equal(RequestTracer.SourceName, generate.Scope);
        Assert.Equal("span-1", generate.Attributes["sluice.request_id"]);
        Assert.Equal("5", generate.Attributes["gen_ai.usage.output_tokens"]);
        Assert.Equal("length", generate.Attributes["gen_ai.response.finish_reasons"]);
        Assert.Equal(t.Server.Host.Name, generate.Attributes["gen_ai.request.model"]);

        var http = spans.Single(s => s.SpanId == generate.ParentSpanId);
        Assert.Equal("00f067aa0ba902b7", http.ParentSpanId); // ASP.NET Core's request span continues the caller's
        var phases = new[] { "queue", "prefill", "decode" }.Select(n => spans.Single(s => s.Name == n)).ToArray();
        Assert.All(phases, p => Assert.Equal(generate.SpanId, p.ParentSpanId));
        Assert.All(phases, p => Assert.InRange(p.StartNanos, generate.StartNanos, p.EndNanos));
        Assert.All(phases, p => Assert.True(p.EndNanos <= generate.EndNanos));
        Assert.Equal(generate.StartNanos, phases[0].StartNanos);
        Assert.True(phases[1].StartNanos == phases[0].EndNanos && phases[2].StartNanos >= phases[1].StartNanos);
    }

    [Fact]
    public void CollectorUrl_WithoutAPath_GetsTheTracesPath()
    {
        Assert.Equal("http://c:4318/v1/traces", TracingSetup.TracesUri(new Uri("http://c:4318")).ToString());
        Assert.Equal("http://c:4318/custom", TracingSetup.TracesUri(new Uri("http://c:4318/custom")).ToString());
    }
}
