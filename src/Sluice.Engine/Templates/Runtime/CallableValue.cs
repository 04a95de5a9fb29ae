namespace Sluice.Engine.Templates.Runtime;

/// <summary>Something a template can call: a global function, a bound method, a macro.</summary>
internal abstract class CallableValue(string name) : Value
{
    public string Name { get; } = name;

    public override string TypeName => "function";

    public abstract Value Invoke(RenderState state, Arguments arguments);
}

/// <summary>A global function such as <c>range</c> or <c>namespace</c>.</summary>
internal sealed class BuiltinFunction(string name, Func<RenderState, Arguments, Value> body) : CallableValue(name)
{
    public override Value Invoke(RenderState state, Arguments arguments) => body(state, arguments);
}

/// <summary>A method looked up on a value, e.g. <c>message.content.strip</c>, bound to that value.</summary>
internal sealed class BoundMethod(Value target, string name, Func<RenderState, Value, Arguments, Value> body) : CallableValue(name)
{
    public override string TypeName => "builtin_function_or_method";

    public override Value Invoke(RenderState state, Arguments arguments) => body(state, target, arguments);
}
