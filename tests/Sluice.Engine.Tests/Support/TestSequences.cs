using Sluice.Engine.Caching;
using Sluice.Engine.Models;
using Sluice.Engine.Sampling;
using Sluice.Engine.Scheduling;
using Sluice.Engine.Serving;

namespace Sluice.Engine.Tests.Support;

/// <summary>
/// Requests for scheduler tests without an engine: each <c>New</c> is one request (submitted in call
/// order) whose first sequence is returned; <see cref="Complete"/> plays the engine's part after a step.
/// </summary>
internal sealed class TestSequences : IDisposable
{
    private readonly LoadedModel _model = TestModels.LoadTiny();
    private long _order;

    /// <summary>A request named <paramref name="id"/> whose prompt is the token ids 1, 2, ... promptLength.</summary>
    public Sequence New(string id, int promptLength, int n = 1, int priority = 0) =>
        New(id, [.. Enumerable.Range(1, promptLength)], n, priority);

    public Sequence New(string id, int[] prompt, int n = 1, int priority = 0)
    {
        var p = new SamplingParams { N = n, MaxTokens = 64 };
        var request = new GenerationRequest { Id = id, PromptTokens = prompt, Sampling = p, Priority = priority };
        var state = new RequestState(request, arrival: 0, _order++);
        var seq = new Sequence(state, 0, prompt, new SequenceSamplingState(p, prompt, 1), _model.Tokenizer.CreateDetokenizer(startOfSequence: false));
        state.Sequences.Add(seq);
        return seq;
    }

    /// <summary>
    /// Forks an n &gt; 1 request's first sequence as the engine does after its prompt: the other n - 1 sequences share
    /// its full blocks and get a fresh block for its partial last one.
    /// </summary>
    public IReadOnlyList<Sequence> Fork(Scheduler scheduler, BlockManager blocks, Sequence parent)
    {
        var state = parent.Request;
        state.Forked = true;
        var children = new List<Sequence>();
        for (int i = 1; i < parent.N; i++)
        {
            var child = new Sequence(state, i, state.Request.PromptTokens, new SequenceSamplingState(state.Request.Sampling, state.Request.PromptTokens, 1),
                _model.Tokenizer.CreateDetokenizer(startOfSequence: false));
            child.CopyStateFrom(parent, blocks, _ => blocks.Allocate());
            state.Sequences.Add(child);
            scheduler.AddRunning(child);
            children.Add(child);
        }
        return children;
    }

    /// <summary>
    /// After a step: records what was computed and gives every sequence whose whole prompt and output are now
    /// computed its next token (token id 100), as sampling would.
    /// </summary>
    public static void Complete(Scheduler scheduler, SchedulerOutput output)
    {
        foreach (var seq in output.Scheduled)
        {
            scheduler.OnComputed(seq);
            if (seq.NumComputed == seq.Tokens.Count)
            {
                seq.Tokens.Add(100);
            }
        }
    }

    /// <summary>"A:6 B:2": each scheduled sequence (id, then ".index" past the first) with its token count.</summary>
    public static string Scheduled(SchedulerOutput output) => string.Join(" ", output.Scheduled.Select(s => $"{Name(s)}:{s.ScheduledTokens}"));

    /// <summary>"B C": the preempted sequences.</summary>
    public static string Preempted(SchedulerOutput output) => string.Join(" ", output.Preempted.Select(Name));

    /// <summary>"B C": sequences in the waiting queue, in order.</summary>
    public static string Waiting(Scheduler scheduler) => string.Join(" ", scheduler.Waiting.Select(Name));

    /// <summary>The meaningful part of a block table.</summary>
    public static int[] Table(Sequence seq) => seq.BlockTable[..seq.BlockCount];

    public static string Name(Sequence seq) => seq.Index == 0 ? seq.Request.Request.Id : $"{seq.Request.Request.Id}.{seq.Index}";

    public void Dispose() => _model.Dispose();
}
