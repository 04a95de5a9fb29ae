using System.Threading.Channels;
using Sluice.Engine.Serving;

namespace Sluice.Engine.Scheduling;

/// <summary>
/// The engine's record of one request: its sequences, the channel its events go to, and the
/// timestamps the metrics are made of (all from the engine's TimeProvider).
/// </summary>
public sealed class RequestState
{
    public RequestState(GenerationRequest request, long arrival, long order)
    {
        Request = request;
        Arrival = arrival;
        Order = order;
    }

    public GenerationRequest Request { get; }
    public Channel<TokenEvent> Events { get; } = Channel.CreateUnbounded<TokenEvent>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = true });
    public List<Sequence> Sequences { get; } = [];

    /// <summary>Submission order, for FCFS and as the tie-break under priorities.</summary>
    public long Order { get; }

    /// <summary>The request's priority: lower runs first under the priority policy.</summary>
    public int Priority => Request.Priority;

    /// <summary>Completions asked for (n): the sequences the request has once forked.</summary>
    public int N => Request.Sampling.N;

    public long Arrival { get; }
    public long? FirstScheduled { get; set; }
    public long? FirstToken { get; set; }
    public long? LastToken { get; set; }
    public long? Finished { get; set; }

    /// <summary>Prompt tokens served from the prefix cache at admission.</summary>
    public int CachedPromptTokens { get; set; }

    /// <summary>True once the first sequence was forked into the request's n sequences.</summary>
    public bool Forked { get; set; }

    public int FinishedSequences { get; set; }
    public int GeneratedTokens { get; set; }

    /// <summary>Time spent turning this request's tokens into text (stop strings included), in the engine's timestamp units, summed over tokens.</summary>
    public long DetokenizeTicks { get; set; }

    /// <summary>Tokens detokenized (the runs <see cref="DetokenizeTicks"/> sums).</summary>
    public int DetokenizeCount { get; set; }
    public Exception? Error { get; set; }
    public bool IsFinished => Finished.HasValue;
}
