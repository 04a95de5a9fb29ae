using System.Collections.Concurrent;
using System.Diagnostics;
using Sluice.Hosting.Tracing;
using Sluice.Server.Observability.Tracing;
using Sluice.Server.Tests.Metrics;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Observability;

/// <summary>CPU-side stage timings: sluice_request_stage_seconds{stage} and one span per stage, for every generation route.</summary>
public sealed class StageTimingTests
{
    private const string Chat = """{"messages": [{"role": "user", "content": "time my stages"}], "max_tokens": 4, "ignore_eos": true""";
    private const string Completion = """{"prompt": "time my stages", "max_tokens": 4, "ignore_eos": true""";

    public static TheoryData<string, string, string[]> Requests => new()
    {
        { "/v1/chat/completions", Chat + "}", ["body_read", "json_parse", "template_render", "tokenize", "detokenize", "json_write"] },
        { "/v1/chat/completions", Chat + ", \"stream\": true}", ["body_read", "json_parse", "template_render", "tokenize", "detokenize", "sse_write"] },
        { "/v1/completions", Completion + "}", ["body_read", "json_parse", "tokenize", "detokenize", "json_write"] },
        { "/v1/completions", Completion + ", \"stream\": true}", ["body_read", "json_parse", "tokenize", "detokenize", "sse_write"] },
        { "/v1/responses", """{"input": "time my stages", "max_output_tokens": 4}""", ["body_read", "json_parse", "template_render", "tokenize", "detokenize", "json_write"] },
        { "/v1/predict", """{"text": "time my stages", "max_tokens": 4}""", ["body_read", "json_parse", "tokenize", "detokenize", "json_write"] },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task StageHistogram_GenerationRequest_ObservesEachStageItRanOnce(string route, string body, string[] stages)
    {
        await using var t = await MetricsServer.StartAsync();
        var before = await t.ScrapeAsync();
        Assert.All(RequestStages.AllNames, s => Assert.Equal(0, Count(before, s))); // every stage listed from the start
        var response = await t.PostAsync(route, body);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        await response.Content.ReadAsStringAsync();

        // the record is published just after the answer is written: scrape until it is in
        var after = await t.ScrapeAsync();
        for (int i = 0; i < 200 && Count(after, "body_read") == 0; i++)
        {
            await Task.Delay(25);
            after = await t.ScrapeAsync();
        }
        foreach (var stage in RequestStages.AllNames)
        {
            Assert.True((stages.Contains(stage) ? 1 : 0) == Count(after, stage), $"{route} {body}: stage {stage} observed {Count(after, stage)} times");
        }
        Assert.All(stages, s => Assert.True(after.Value("sluice_request_stage_seconds_sum", ("stage", s)) > 0, $"{s} took no time"));
    }

    [Fact]
    public async Task StageSpans_StreamedChatRequest_AppearForAnInProcessListener_UnderTheHttpSpan()
    {
        var stopped = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is RequestTracer.SourceName or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Add,
        };
        ActivitySource.AddActivityListener(listener);
        await using var t = await MetricsServer.StartAsync();
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Chat + ", \"stream\": true}") };
        request.Headers.Add("X-Request-Id", "stages-1");
        var response = await t.Client.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode);
        await response.Content.ReadAsStringAsync();

        string[] expected = ["body_read", "json_parse", "template_render", "tokenize", "detokenize", "sse_write"];
        List<Activity> spans = [];
        for (int i = 0; i < 200; i++)
        {
            spans = [.. stopped.Where(a => a.Source.Name == RequestTracer.SourceName && (a.GetTagItem("sluice.request_id") as string) == "stages-1")];
            if (expected.All(n => spans.Any(s => s.OperationName == n)))
            {
                break;
            }
            await Task.Delay(25);
        }
        Assert.Equal(expected.Order(), spans.Select(s => s.OperationName).Order());
        var http = stopped.Single(a => a.Source.Name == "Microsoft.AspNetCore" && a.SpanId == spans[0].ParentSpanId);
        Assert.All(spans, s => Assert.Equal(http.SpanId, s.ParentSpanId));
        Assert.All(spans, s => Assert.True(s.Duration > TimeSpan.Zero, $"{s.OperationName} has no duration"));
        var sse = spans.Single(s => s.OperationName == "sse_write");
        Assert.True((int)sse.GetTagItem("sluice.stage.count")! > 2, "a write per chunk, summed into one span"); // opening, 4 tokens, [DONE]
        var detokenize = spans.Single(s => s.OperationName == "detokenize");
        Assert.Equal(4, (int)detokenize.GetTagItem("sluice.stage.count")!);
    }

    private static double Count(Scrape s, string stage) => s.Value("sluice_request_stage_seconds_count", ("stage", stage));
}
