using Sluice.Engine.Models;
using Sluice.Engine.Sampling.Grammars;
using Sluice.Engine.Serving;

namespace Sluice.Server.Requests;

/// <summary>
/// A generation request once resolved: its id, its route template, the served name it asked for, the engine, the model
/// the server's compiled grammars and its <c>--max-output-tokens</c> (null: none).
/// </summary>
internal sealed record ResolvedRequest(string RequestId, string Route, string Model, LlmEngine Engine, LoadedModel Loaded, GrammarCache Grammars,
    int? MaxOutputTokens = null);
