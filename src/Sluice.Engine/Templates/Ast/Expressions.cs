using Sluice.Engine.Templates.Builtins;
using Sluice.Engine.Templates.Runtime;
using Sluice.Engine.Templates.Syntax;

namespace Sluice.Engine.Templates.Ast;

/// <summary>An expression; every node remembers where it starts so runtime errors can point at it.</summary>
internal abstract record Expr(SourcePosition Position);

/// <summary>A constant: string, number, boolean or none. Lists and dicts are built fresh each time (they are mutable).</summary>
internal sealed record LiteralExpr(Value Value, SourcePosition Position) : Expr(Position);

internal sealed record NameExpr(string Name, SourcePosition Position) : Expr(Position);

internal sealed record ListExpr(IReadOnlyList<Expr> Items, bool IsTuple, SourcePosition Position) : Expr(Position);

internal sealed record DictExpr(IReadOnlyList<KeyValuePair<Expr, Expr>> Pairs, SourcePosition Position) : Expr(Position);

/// <summary><c>target.name</c>: attribute first, then item, as Jinja's <c>getattr</c>.</summary>
internal sealed record AttributeExpr(Expr Target, string Name, SourcePosition Position) : Expr(Position);

/// <summary><c>target[index]</c>: item first, then attribute, as Jinja's <c>getitem</c>.</summary>
internal sealed record ItemExpr(Expr Target, Expr Index, SourcePosition Position) : Expr(Position);

internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, SourcePosition Position) : Expr(Position);

internal sealed record CallArguments(IReadOnlyList<Expr> Positional, IReadOnlyList<KeyValuePair<string, Expr>> Named)
{
    public static CallArguments None { get; } = new([], []);
}

internal sealed record CallExpr(Expr Callee, CallArguments Arguments, SourcePosition Position) : Expr(Position);

/// <summary>A filter application; the function is resolved at parse time, so an unknown filter is a syntax error.</summary>
internal sealed record FilterSpec(string Name, FilterFunction Function, CallArguments Arguments, SourcePosition Position);

internal sealed record FilterExpr(Expr Input, FilterSpec Filter, SourcePosition Position) : Expr(Position);

/// <summary><c>input is [not] name(args)</c>; the test is resolved at parse time like filters.</summary>
internal sealed record TestExpr(Expr Input, string Name, TestFunction Function, CallArguments Arguments, bool Negated, SourcePosition Position)
    : Expr(Position);

internal enum UnaryOperator
{
    Not,
    Negate,
    Plus,
}

internal sealed record UnaryExpr(UnaryOperator Operator, Expr Operand, SourcePosition Position) : Expr(Position);

internal enum BinaryOperator
{
    Add,
    Subtract,
    Multiply,
    Divide,
    FloorDivide,
    Modulo,
    Power,
    And,
    Or,
}

internal sealed record BinaryExpr(BinaryOperator Operator, Expr Left, Expr Right, SourcePosition Position) : Expr(Position);

/// <summary><c>a ~ b ~ c</c>: the string forms joined.</summary>
internal sealed record ConcatExpr(IReadOnlyList<Expr> Parts, SourcePosition Position) : Expr(Position);

internal enum CompareOperator
{
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    In,
    NotIn,
}

/// <summary>A comparison chain, <c>a &lt; b &lt; c</c> meaning <c>a &lt; b and b &lt; c</c> as in Python.</summary>
internal sealed record CompareExpr(Expr First, IReadOnlyList<KeyValuePair<CompareOperator, Expr>> Rest, SourcePosition Position)
    : Expr(Position);

/// <summary><c>then if condition else otherwise</c>; without <c>else</c> a false condition gives undefined.</summary>
internal sealed record ConditionalExpr(Expr Condition, Expr Then, Expr? Otherwise, SourcePosition Position) : Expr(Position);
