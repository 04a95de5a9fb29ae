using Sluice.Engine.Models;
using Sluice.Engine.Sampling.Grammars;
using Sluice.Engine.Serving;
using Sluice.Hosting.Tracing;

namespace Sluice.Server.Requests;

/// <summary>
/// A generation request once resolved: its id, its route template, the served name it asked for, the engine, the model
/// the server's compiled grammars, its <c>--max-output-tokens</c> (null: none) and the request's stage timings (null: not timed).
/// </summary>
internal sealed record ResolvedRequest(string RequestId, string Route, string Model, LlmEngine Engine, LoadedModel Loaded, GrammarCache Grammars,
    int? MaxOutputTokens = null, RequestStages? Stages = null);
