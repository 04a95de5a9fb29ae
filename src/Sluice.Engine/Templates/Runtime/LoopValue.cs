namespace Sluice.Engine.Templates.Runtime;

/// <summary>The <c>loop</c> variable inside a for loop.</summary>
internal sealed class LoopValue(IReadOnlyList<Value> items, int index) : Value
{
    public override string TypeName => "LoopContext";

    public override Value? GetOwnAttribute(string name) => name switch
    {
        "index" => IntValue.Of(index + 1),
        "index0" => IntValue.Of(index),
        "revindex" => IntValue.Of(items.Count - index),
        "revindex0" => IntValue.Of(items.Count - index - 1),
        "first" => BoolValue.Of(index == 0),
        "last" => BoolValue.Of(index == items.Count - 1),
        "length" => IntValue.Of(items.Count),
        "depth" => IntValue.Of(1),
        "depth0" => IntValue.Of(0),
        "previtem" => index > 0 ? items[index - 1] : new UndefinedValue("there is no previous item"),
        "nextitem" => index < items.Count - 1 ? items[index + 1] : new UndefinedValue("there is no next item"),
        "cycle" => new BuiltinFunction("cycle", Cycle),
        _ => null,
    };

    private Value Cycle(RenderState state, Arguments arguments)
    {
        if (arguments.Positional.Count == 0)
        {
            throw new TemplateException(TemplateErrorKind.Runtime, "no items for cycling given");
        }

        return arguments.Positional[index % arguments.Positional.Count];
    }
}
