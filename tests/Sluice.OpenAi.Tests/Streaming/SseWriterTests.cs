using System.IO.Pipelines;
using System.Text;

namespace Sluice.OpenAi.Tests.Streaming;

public sealed class SseWriterTests
{
    [Fact]
    public async Task Write_ChunksThenDone_AreOpenAiEventsTheReaderReadsBack()
    {
        var body = new MemoryStream();
        var sse = new SseWriter(PipeWriter.Create(body), CancellationToken.None);
        await sse.WriteAsync(new ChatCompletionChunk("c-1", 5, "m", [new ChatChunkChoice(0, new ChatDelta { Content = "é<\"" }, null, null)]), OpenAiJson.Web.ChatCompletionChunk);
        await sse.WriteDoneAsync();

        string text = Encoding.UTF8.GetString(body.ToArray());
        Assert.Equal("data: {\"id\":\"c-1\",\"created\":5,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"é<\\\"\"},\"logprobs\":null,\"finish_reason\":null}],"
            + "\"object\":\"chat.completion.chunk\"}\n\ndata: [DONE]\n\n", text);
        var events = new List<SseEvent>();
        await foreach (var e in new SseReader(new MemoryStream(body.ToArray())).ReadAllAsync())
        {
            events.Add(e);
        }
        Assert.Equal(2, events.Count);
        Assert.True(events[1].IsDone);
    }

    [Fact]
    public async Task Write_AfterTheReaderLeft_StopsQuietly()
    {
        var pipe = new Pipe();
        var sse = new SseWriter(pipe.Writer, CancellationToken.None);
        await pipe.Reader.CompleteAsync();
        await sse.WriteAsync(new ErrorResponse(new ErrorDetail("x", "server_error", null, null)), OpenAiJson.Web.ErrorResponse);
        Assert.False(sse.Open);
        await sse.WriteDoneAsync();
        Assert.False(sse.Open);
    }
}
