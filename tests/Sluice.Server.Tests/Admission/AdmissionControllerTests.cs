using Microsoft.Extensions.Time.Testing;
using Sluice.Hosting.Errors;
using Sluice.Server.Admission;

namespace Sluice.Server.Tests.Admission;

public sealed class AdmissionControllerTests
{
    [Fact]
    public void Admit_BeyondRunningPlusQueued_Is429QueueFull()
    {
        var a = new AdmissionController(maxNumSeqs: 2, maxNumQueuedReqs: 1, maxNumQueuedTokens: null, new FakeTimeProvider());
        using var t1 = a.Admit(1, 10);
        using var t2 = a.Admit(1, 10);
        using var t3 = a.Admit(1, 10);
        Assert.Equal(1, a.Queued);
        var ex = Assert.Throws<ApiException>(() => a.Admit(1, 10));
        Assert.Equal(429, ex.Status);
        Assert.Equal(AdmissionRejection.QueueFull, ex.Reason);
        t1.Dispose();
        using var t4 = a.Admit(1, 10);
        Assert.Equal(3, a.InFlight);
    }

    [Fact]
    public void Admit_MoreSequencesThanTheServerCouldEverHold_Is400()
    {
        var a = new AdmissionController(maxNumSeqs: 2, maxNumQueuedReqs: 3, maxNumQueuedTokens: null, new FakeTimeProvider());
        var ex = Assert.Throws<ApiException>(() => a.Admit(6, 10));
        Assert.Equal(400, ex.Status);
        using var fits = a.Admit(5, 10);
    }

    [Fact]
    public void RetryAfter_IsTheWaitingSequencesOverTheDrainRate()
    {
        var time = new FakeTimeProvider();
        var a = new AdmissionController(maxNumSeqs: 1, maxNumQueuedReqs: 3, maxNumQueuedTokens: null, time);
        // 10 sequences finish over 10 s: 1 per second
        for (int i = 0; i < 10; i++)
        {
            var t = a.Admit(1, 5);
            t.MarkFinished();
            time.Advance(TimeSpan.FromSeconds(1));
            t.Dispose();
        }
        Assert.InRange(a.DrainRatePerSecond, 0.9, 1.1);
        var held = Enumerable.Range(0, 4).Select(_ => a.Admit(1, 5)).ToList();
        var ex = Assert.Throws<ApiException>(() => a.Admit(1, 5));
        // 3 waiting plus this one at 1/s
        Assert.Equal(4, ex.RetryAfterSeconds);
        held.ForEach(t => t.Dispose());
    }

    [Fact]
    public void RetryAfter_WithNothingFinishedYet_IsAFewSeconds()
    {
        var a = new AdmissionController(1, 0, null, new FakeTimeProvider());
        using var held = a.Admit(1, 1);
        var ex = Assert.Throws<ApiException>(() => a.Admit(1, 1));
        Assert.InRange(ex.RetryAfterSeconds!.Value, 1, 60);
    }

    [Fact]
    public void QueuedTokens_BoundPromptTokensWaitingForPrefill_ButAloneAnyPromptIsAdmitted()
    {
        var a = new AdmissionController(8, 8, maxNumQueuedTokens: 100, new FakeTimeProvider());
        using var big = a.Admit(1, 500);
        var ex = Assert.Throws<ApiException>(() => a.Admit(1, 10));
        Assert.Equal(AdmissionRejection.QueuedTokensFull, ex.Reason);
        big.PrefillDone(500);
        Assert.Equal(0, a.PrefillTokens);
        using var next = a.Admit(1, 60);
        using var another = a.Admit(1, 40);
        Assert.Throws<ApiException>(() => a.Admit(1, 1));
    }

    [Fact]
    public async Task WaitForIdle_CompletesWhenTheLastTicketIsReturned()
    {
        var a = new AdmissionController(4, 4, null, TimeProvider.System);
        Assert.True(await a.WaitForIdleAsync(TimeSpan.FromSeconds(1)));
        var t = a.Admit(2, 3);
        Assert.NotEqual(0, a.BusySince);
        var wait = a.WaitForIdleAsync(TimeSpan.FromSeconds(10));
        Assert.False(wait.IsCompleted);
        t.Dispose();
        Assert.True(await wait);
        Assert.Equal(0, a.BusySince);
        Assert.False(await Task.Run(async () =>
        {
            using var again = a.Admit(1, 1);
            return await a.WaitForIdleAsync(TimeSpan.FromMilliseconds(50));
        }));
    }
}
