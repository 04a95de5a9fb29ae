namespace Sluice.Server.Hosting;

/// <summary>
/// The server's life: Loading → WarmingUp → Ready → Draining → Stopped, or Failed when the model
/// cannot be loaded. Only Ready accepts generation requests and passes readiness.
/// </summary>
public enum ServerState
{
    Loading,
    WarmingUp,
    Ready,
    Draining,
    Stopped,
    Failed,
}
