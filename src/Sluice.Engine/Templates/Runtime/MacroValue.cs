using Sluice.Engine.Templates.Ast;

namespace Sluice.Engine.Templates.Runtime;

/// <summary>
/// A macro defined by <c>{% macro %}</c> (or the body of a <c>{% call %}</c> block, which the called macro
/// sees as <c>caller</c>). A call renders the body in a child of the scope the macro was defined in, so it
/// sees template variables as they are at call time.
/// </summary>
internal sealed class MacroValue(
    Interpreter interpreter,
    string name,
    IReadOnlyList<MacroParameter> parameters,
    IReadOnlyList<Node> body,
    Scope closure) : CallableValue(name)
{
    public override string TypeName => "Macro";

    public override Value Invoke(RenderState state, Arguments arguments) => Invoke(state, arguments, caller: null);

    public Value Invoke(RenderState state, Arguments arguments, MacroValue? caller)
    {
        state.CountIteration();
        state.EnterCall();
        try
        {
            if (arguments.Positional.Count > parameters.Count)
            {
                throw Errors.Runtime($"macro '{Name}' takes not more than {parameters.Count} argument(s)");
            }

            foreach (var pair in arguments.Named)
            {
                if (!parameters.Any(p => p.Name == pair.Key))
                {
                    throw Errors.Runtime($"macro '{Name}' takes no keyword argument '{pair.Key}'");
                }
            }

            var scope = new Scope(closure);
            for (var i = 0; i < parameters.Count; i++)
            {
                var parameter = parameters[i];
                var value = i < arguments.Positional.Count ? arguments.Positional[i] : arguments.Find(-1, parameter.Name);
                value ??= parameter.Default is { } fallback
                    ? interpreter.Evaluate(fallback, scope)
                    : new UndefinedValue($"parameter '{parameter.Name}' was not provided");
                scope.Set(parameter.Name, value);
            }

            if (caller is not null)
            {
                scope.Set("caller", caller);
            }

            return new StringValue(interpreter.RenderBody(body, scope));
        }
        finally
        {
            state.ExitCall();
        }
    }
}
