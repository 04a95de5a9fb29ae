using System.Text;

namespace Sluice.OpenAi.Tests.Streaming;

public sealed class SseReaderTests
{
    private static async Task<List<SseEvent>> ReadAll(string text)
    {
        var reader = new SseReader(new MemoryStream(Encoding.UTF8.GetBytes(text)));
        var events = new List<SseEvent>();
        await foreach (var e in reader.ReadAllAsync())
        {
            events.Add(e);
        }
        return events;
    }

    [Fact]
    public async Task Read_OpenAiStream_GivesEachDataEventThenDone()
    {
        var events = await ReadAll("data: {\"a\":1}\n\ndata: {\"a\":2}\n\ndata: [DONE]\n\n");
        Assert.Equal(["{\"a\":1}", "{\"a\":2}", "[DONE]"], events.Select(e => e.Data));
        Assert.Equal([false, false, true], events.Select(e => e.IsDone));
    }

    [Fact]
    public async Task Read_MultiLineDataCommentsAndEventType_FollowTheStandard()
    {
        var events = await ReadAll(": keep-alive\nevent: error\ndata:first\ndata: second\nid: 7\n\n\n\ndata: x\n\n");
        Assert.Equal(2, events.Count);
        Assert.Equal(new SseEvent("error", "first\nsecond"), events[0]);
        Assert.Equal(new SseEvent(null, "x"), events[1]);
    }

    [Fact]
    public async Task Read_CrLfLinesAndNoFinalBlankLine_StillGiveTheEvents()
    {
        var events = await ReadAll("data: one\r\n\r\ndata: two");
        Assert.Equal(["one", "two"], events.Select(e => e.Data));
    }

    [Fact]
    public async Task Read_EventWithoutData_IsDropped()
    {
        var events = await ReadAll("event: ping\n\ndata: real\n\n");
        Assert.Equal([new SseEvent(null, "real")], events);
    }
}
