using System.Threading.Channels;
using Sluice.Engine.Scheduling;

namespace Sluice.Engine.Serving;

/// <summary>
/// A submitted request as its caller sees it: the stream of events (one per generated token per
/// sequence, the last of each sequence carrying its finish reason) and, once finished, its timings.
/// </summary>
public sealed class RequestHandle
{
    private readonly RequestState _state;
    private readonly Action<RequestState> _abort;

    internal RequestHandle(RequestState state, Action<RequestState> abort)
    {
        _state = state;
        _abort = abort;
    }

    public string Id => _state.Request.Id;
    public int PromptTokens => _state.Request.PromptTokens.Count;
    public ChannelReader<TokenEvent> Events => _state.Events.Reader;

    /// <summary>Timestamps and counts; complete once the event stream has ended.</summary>
    public RequestState State => _state;

    /// <summary>Stops the request; its sequences end with <see cref="FinishReason.Cancelled"/>.</summary>
    public void Abort() => _abort(_state);
}
