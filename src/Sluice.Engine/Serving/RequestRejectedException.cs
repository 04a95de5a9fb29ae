namespace Sluice.Engine.Serving;

/// <summary>A request the engine will not run, with the limit it broke named in the message.</summary>
public sealed class RequestRejectedException(EngineRejection reason, string message) : Exception(message)
{
    public EngineRejection Reason { get; } = reason;
}
