using Sluice.Gateway.Configuration;
using Sluice.Gateway.Forwarding;

namespace Sluice.Gateway.Tests.Forwarding;

/// <summary>The forwarding client: one while the connect timeout stays, a new one when it changes.</summary>
public sealed class BackendInvokerTests
{
    [Fact]
    public void For_SameConnectTimeout_GivesTheSameClient_OtherTimeoutANewOne()
    {
        var invoker = new BackendInvoker();
        var first = invoker.For(new TimeoutSettings());
        Assert.Same(first, invoker.For(new TimeoutSettings { Idle = TimeSpan.FromSeconds(1) })); // only the connect timeout is the client's
        var other = invoker.For(new TimeoutSettings { Connect = TimeSpan.FromSeconds(1) });
        Assert.NotSame(first, other);
        Assert.Same(other, invoker.For(new TimeoutSettings { Connect = TimeSpan.FromSeconds(1) }));
    }
}
