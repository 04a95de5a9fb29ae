using Sluice.Hosting.Lifetime;

namespace Sluice.Server.Hosting;

/// <summary>What SIGTERM drains in the server: the model host stops taking requests, admitted sequences run to their end.</summary>
internal sealed class ServerDrain(ServingContext serving) : IDrainTarget
{
    public int InFlight => serving.Admission.InFlight;

    public void BeginDrain() => serving.Host.BeginDrain();

    public Task<bool> WaitForIdleAsync(TimeSpan timeout) => serving.Admission.WaitForIdleAsync(timeout);

    public void AbortInFlight() => serving.CancelInFlight();

    public void MarkStopped() => serving.Host.MarkStopped();
}
