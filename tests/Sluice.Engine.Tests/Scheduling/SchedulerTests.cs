using Sluice.Engine.Caching;
using Sluice.Engine.Models;
using Sluice.Engine.Sampling;
using Sluice.Engine.Scheduling;
using Sluice.Engine.Serving;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Scheduling;

public sealed class SchedulerTests
{
    [Fact]
    public void Schedule_SeveralUnforkedNGreaterThanOneRequests_AdmitsOnlyWhatFitsAfterForking()
    {
        using var model = TestModels.LoadTiny();
        var scheduler = new Scheduler(new BlockManager(64, 16, enablePrefixCaching: false), maxNumSeqs: 8, maxNumBatchedTokens: 256, SchedulingPolicy.Fcfs);
        var requests = Enumerable.Range(0, 3).Select(i => NewSequence(model, order: i, n: 4)).ToArray();
        foreach (var seq in requests)
        {
            scheduler.Add(seq);
        }

        var output = new SchedulerOutput();
        scheduler.Schedule(output);

        // each will become 4 sequences after its prompt: two fill the 8 places, the third waits
        Assert.Equal([requests[0], requests[1]], output.Scheduled);
        Assert.Equal(8, scheduler.RunningSlots);
        Assert.Single(scheduler.Waiting);
    }

    [Fact]
    public void Schedule_ForkedRequestsSequences_CountOneEach()
    {
        using var model = TestModels.LoadTiny();
        var scheduler = new Scheduler(new BlockManager(64, 16, enablePrefixCaching: false), maxNumSeqs: 5, maxNumBatchedTokens: 256, SchedulingPolicy.Fcfs);
        var forked = NewSequence(model, order: 0, n: 4);
        forked.Request.Forked = true;
        scheduler.Add(forked);
        scheduler.Add(NewSequence(model, order: 1, n: 1));
        scheduler.Add(NewSequence(model, order: 2, n: 1));

        var output = new SchedulerOutput();
        scheduler.Schedule(output);

        Assert.Equal(3, output.Scheduled.Count);
        Assert.Equal(3, scheduler.RunningSlots);
    }

    private static Sequence NewSequence(LoadedModel model, int order, int n)
    {
        int[] prompt = [1, 2, 3];
        var p = new SamplingParams { N = n, MaxTokens = 4 };
        var request = new GenerationRequest { Id = $"r{order}", PromptTokens = prompt, Sampling = p };
        var state = new RequestState(request, arrival: 0, order);
        var seq = new Sequence(state, 0, prompt, new SequenceSamplingState(p, prompt, 1), model.Tokenizer.CreateDetokenizer(startOfSequence: false));
        state.Sequences.Add(seq);
        return seq;
    }
}
