using System.Collections.Frozen;
using Sluice.Engine.Templates.Runtime;

namespace Sluice.Engine.Templates.Builtins;

/// <summary>Jinja's tests (<c>x is defined</c>, <c>n is divisibleby 3</c>, ...), with Python's notion of each type.</summary>
internal static class TestFunctions
{
    private static readonly FrozenDictionary<string, TestFunction> All = new Dictionary<string, TestFunction>
    {
        ["defined"] = (_, v, _) => v is not UndefinedValue,
        ["undefined"] = (_, v, _) => v is UndefinedValue,
        ["none"] = (_, v, _) => v is NoneValue,
        ["boolean"] = (_, v, _) => v is BoolValue,
        ["true"] = (_, v, _) => v is BoolValue { Value: true },
        ["false"] = (_, v, _) => v is BoolValue { Value: false },
        ["integer"] = (_, v, _) => v is IntValue,
        ["float"] = (_, v, _) => v is FloatValue,
        // Python's bool is a number too.
        ["number"] = (_, v, _) => v is IntValue or FloatValue or BoolValue,
        ["string"] = (_, v, _) => v is StringValue,
        ["mapping"] = (_, v, _) => v is DictValue,
        // Jinja's Undefined is iterable (it iterates as empty) and passes the sequence test too.
        ["iterable"] = (_, v, _) => v is StringValue or ListValue or DictValue or UndefinedValue,
        ["sequence"] = (_, v, _) => v is StringValue or ListValue or DictValue or UndefinedValue,
        ["callable"] = (_, v, _) => v is CallableValue,
        ["odd"] = (_, v, _) => Integer(v, "odd") % 2 != 0,
        ["even"] = (_, v, _) => Integer(v, "even") % 2 == 0,
        ["divisibleby"] = DivisibleBy,
        ["eq"] = (_, v, a) => Comparison.Equal(v, a.Require(0, "other", "eq")),
        ["equalto"] = (_, v, a) => Comparison.Equal(v, a.Require(0, "other", "equalto")),
        ["sameas"] = (_, v, a) => SameAs(v, a.Require(0, "other", "sameas")),
        ["ne"] = (_, v, a) => !Comparison.Equal(v, a.Require(0, "other", "ne")),
        ["lt"] = (_, v, a) => Comparison.Compare(v, a.Require(0, "other", "lt"), "<") < 0,
        ["lessthan"] = (_, v, a) => Comparison.Compare(v, a.Require(0, "other", "lessthan"), "<") < 0,
        ["le"] = (_, v, a) => Comparison.Compare(v, a.Require(0, "other", "le"), "<=") <= 0,
        ["gt"] = (_, v, a) => Comparison.Compare(v, a.Require(0, "other", "gt"), ">") > 0,
        ["greaterthan"] = (_, v, a) => Comparison.Compare(v, a.Require(0, "other", "greaterthan"), ">") > 0,
        ["ge"] = (_, v, a) => Comparison.Compare(v, a.Require(0, "other", "ge"), ">=") >= 0,
        ["in"] = (_, v, a) => Comparison.Contains(a.Require(0, "seq", "in"), v),
        ["lower"] = (s, v, _) => PyText.Str(v, s) is var t && t == t.ToLowerInvariant(),
        ["upper"] = (s, v, _) => PyText.Str(v, s) is var t && t == t.ToUpperInvariant(),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static bool TryGet(string name, out TestFunction function) => All.TryGetValue(name, out function!);

    private static bool DivisibleBy(RenderState state, Value value, Arguments arguments)
    {
        var divisor = Integer(arguments.Require(0, "num", "divisibleby"), "divisibleby");
        return divisor == 0 ? throw Errors.Runtime("integer division or modulo by zero") : Integer(value, "divisibleby") % divisor == 0;
    }

    private static bool SameAs(Value left, Value right) =>
        ReferenceEquals(left, right) || (left is NoneValue && right is NoneValue) || (left is BoolValue a && right is BoolValue b && a.Value == b.Value);

    private static long Integer(Value value, string test) =>
        value switch
        {
            UndefinedValue u => throw u.Error(),
            IntValue i => i.Value,
            BoolValue b => b.Value ? 1 : 0,
            FloatValue f when f.Value % 1 == 0 => (long)f.Value,
            _ => throw Errors.Runtime($"the '{test}' test needs an integer, not {value.TypeName}"),
        };
}
