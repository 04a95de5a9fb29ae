using Sluice.Engine.Templates.Ast;
using Sluice.Engine.Templates.Builtins;
using Sluice.Engine.Templates.Runtime;
using Sluice.Engine.Templates.Syntax;

namespace Sluice.Engine.Templates;

/// <summary>
/// A parsed Jinja chat template, as models ship in <c>tokenizer.chat_template</c>. Parse once, render
/// many times, from any number of threads: the parsed form is immutable and each render has its own state.
/// Rendering follows HF's <c>apply_chat_template</c>: <c>trim_blocks</c> and <c>lstrip_blocks</c> on,
/// loop controls enabled, <c>raise_exception</c>, <c>strftime_now</c> and HF's <c>tojson</c>.
/// </summary>
public sealed class ChatTemplate
{
    private readonly IReadOnlyList<Node> _body;

    private ChatTemplate(string source, IReadOnlyList<Node> body)
    {
        Source = source;
        _body = body;
    }

    public string Source { get; }

    /// <summary>Parses <paramref name="source"/>; a syntax error throws <see cref="TemplateException"/> with its line and column.</summary>
    public static ChatTemplate Parse(string source, TemplateLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new ChatTemplate(source, Parser.Parse(source, (limits ?? TemplateLimits.Default).MaxParseDepth));
    }

    /// <summary>Renders the conversation in <paramref name="context"/> into the prompt text.</summary>
    public string Render(ChatTemplateContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Render(
            () =>
            {
                var variables = new Dictionary<string, Value>(StringComparer.Ordinal)
                {
                    ["messages"] = new ListValue([.. context.Messages.Select(ValueConverter.FromMessage)]),
                    ["add_generation_prompt"] = BoolValue.Of(context.AddGenerationPrompt),
                    ["tools"] = ValueConverter.FromJsonText(context.ToolsJson, "ToolsJson"),
                    ["documents"] = ValueConverter.FromJsonText(context.DocumentsJson, "DocumentsJson"),
                };
                if (context.BosToken is not null)
                {
                    variables["bos_token"] = new StringValue(context.BosToken);
                }

                if (context.EosToken is not null)
                {
                    variables["eos_token"] = new StringValue(context.EosToken);
                }

                foreach (var pair in context.Extra)
                {
                    variables[pair.Key] = ValueConverter.FromObject(pair.Value);
                }

                return variables;
            },
            context.Limits,
            context.Clock);
    }

    /// <summary>
    /// Renders with arbitrary variables, for templates that are not chat templates or callers that build
    /// the HF variables themselves. Values convert as <see cref="ChatTemplateContext.Extra"/> describes.
    /// </summary>
    public string Render(IReadOnlyDictionary<string, object?> variables, TemplateLimits? limits = null, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(variables);
        return Render(
            () => variables.ToDictionary(p => p.Key, p => ValueConverter.FromObject(p.Value), StringComparer.Ordinal),
            limits ?? TemplateLimits.Default,
            clock ?? TimeProvider.System);
    }

    private string Render(Func<Dictionary<string, Value>> variables, TemplateLimits limits, TimeProvider clock)
    {
        var state = new RenderState(limits, clock);
        try
        {
            var globals = new Scope(null);
            foreach (var pair in Globals.All)
            {
                globals.Set(pair.Key, pair.Value);
            }

            var scope = new Scope(globals);
            foreach (var pair in variables())
            {
                scope.Set(pair.Key, pair.Value);
            }

            return new Interpreter(state).Render(_body, scope);
        }
        catch (Exception e) when (e is not (TemplateException or OutOfMemoryException))
        {
            throw new TemplateException(TemplateErrorKind.Runtime, $"rendering failed: {e.Message}", e);
        }
    }
}
