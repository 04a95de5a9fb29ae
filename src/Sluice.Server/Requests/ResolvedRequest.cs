using Sluice.Engine.Models;
using Sluice.Engine.Serving;

namespace Sluice.Server.Requests;

/// <summary>A generation request once resolved: its id, its route template, the served name it asked for, the engine and the model.</summary>
internal sealed record ResolvedRequest(string RequestId, string Route, string Model, LlmEngine Engine, LoadedModel Loaded);
