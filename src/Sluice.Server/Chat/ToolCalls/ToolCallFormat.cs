namespace Sluice.Server.Chat.ToolCalls;

/// <summary>
/// How a model family writes its tool calls, read from its chat template: the markers that open a run of calls and the
/// ones that may stand between calls. Every family writes a call as a JSON object with the function's <c>name</c> and
/// its <c>arguments</c> (Llama 3.x says <c>parameters</c>); a run of calls may also be a JSON array, or objects split by
/// <c>;</c>. A reply may also start with a call without any marker: control tokens such as Mistral's
/// <c>[TOOL_CALLS]</c> and Llama's <c>&lt;|python_tag|&gt;</c> are not rendered in the output text. Newer Mistral models
/// write a call as <c>name[ARGS]{...}</c> instead (<see cref="ArgumentsMarker"/>), each after its own <c>[TOOL_CALLS]</c>.
/// </summary>
public sealed record ToolCallFormat(string Family, IReadOnlyList<string> Openers, IReadOnlyList<string> Separators, string? ArgumentsMarker = null)
{
    /// <summary>Hermes, Qwen 2.5 and 3, and the generic template: <c>&lt;tool_call&gt;{...}&lt;/tool_call&gt;</c>, one a call.</summary>
    public static ToolCallFormat Hermes { get; } = new("hermes", ["<tool_call>"], ["<tool_call>", "</tool_call>"]);

    /// <summary>
    /// Mistral v3 and Nemo: <c>[TOOL_CALLS][{...}, {...}]</c>; the v11 tokenizer's models (Mistral Small 3.2, Magistral,
    /// Devstral): <c>[TOOL_CALLS]name[ARGS]{...}</c>, a reply starting with <c>name[ARGS]</c> when the control tokens are not
    /// rendered.
    /// </summary>
    public static ToolCallFormat Mistral { get; } = new("mistral", ["[TOOL_CALLS]"], ["[TOOL_CALLS]"], "[ARGS]");

    /// <summary>Llama 3.1 to 3.3: <c>{"name": ..., "parameters": {...}}</c>, after <c>&lt;|python_tag|&gt;</c> or alone.</summary>
    public static ToolCallFormat Llama3 { get; } = new("llama3", ["<|python_tag|>"], ["<|python_tag|>"]);

    /// <summary>Granite 3.x: <c>&lt;|tool_call|&gt;[{...}]</c>.</summary>
    public static ToolCallFormat Granite { get; } = new("granite", ["<|tool_call|>"], ["<|tool_call|>"]);

    /// <summary>The family of a chat template's source (Hermes, as the generic template writes, when none is recognized).</summary>
    public static ToolCallFormat Of(string? templateSource) => templateSource switch
    {
        null => Hermes,
        _ when templateSource.Contains("[TOOL_CALLS]", StringComparison.Ordinal) => Mistral,
        _ when templateSource.Contains("<|tool_call|>", StringComparison.Ordinal) => Granite,
        _ when templateSource.Contains("<tool_call>", StringComparison.Ordinal) => Hermes,
        _ when templateSource.Contains("<|python_tag|>", StringComparison.Ordinal)
            || templateSource.Contains("<|start_header_id|>", StringComparison.Ordinal) => Llama3,
        _ => Hermes,
    };
}
