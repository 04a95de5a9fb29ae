using Sluice.Engine.Templates.Syntax;

namespace Sluice.Engine.Templates.Ast;

/// <summary>A template statement or piece of output.</summary>
internal abstract record Node(SourcePosition Position);

internal sealed record TextNode(string Text, SourcePosition Position) : Node(Position);

/// <summary><c>{{ expression }}</c>.</summary>
internal sealed record OutputNode(Expr Expression, SourcePosition Position) : Node(Position);

internal sealed record IfBranch(Expr Condition, IReadOnlyList<Node> Body);

internal sealed record IfNode(IReadOnlyList<IfBranch> Branches, IReadOnlyList<Node>? Else, SourcePosition Position) : Node(Position);

/// <summary>Where <c>set</c> and <c>for</c> store values.</summary>
internal abstract record AssignTarget;

internal sealed record NameTarget(string Name) : AssignTarget;

/// <summary><c>for key, value in ...</c> or <c>set a, b = ...</c>: the value is unpacked.</summary>
internal sealed record TupleTarget(IReadOnlyList<string> Names) : AssignTarget;

/// <summary><c>set ns.attribute = ...</c>, allowed on namespace objects only, as in Jinja.</summary>
internal sealed record AttributeTarget(string Object, string Attribute) : AssignTarget;

internal sealed record ForNode(
    AssignTarget Target,
    Expr Iterable,
    Expr? Filter,
    IReadOnlyList<Node> Body,
    IReadOnlyList<Node>? Else,
    SourcePosition Position) : Node(Position);

internal sealed record SetNode(AssignTarget Target, Expr Value, SourcePosition Position) : Node(Position);

/// <summary><c>{% set name | filters %}body{% endset %}</c>: the rendered body, filtered, becomes the value.</summary>
internal sealed record SetBlockNode(string Name, IReadOnlyList<FilterSpec> Filters, IReadOnlyList<Node> Body, SourcePosition Position)
    : Node(Position);

internal sealed record MacroParameter(string Name, Expr? Default);

internal sealed record MacroNode(string Name, IReadOnlyList<MacroParameter> Parameters, IReadOnlyList<Node> Body, SourcePosition Position)
    : Node(Position);

/// <summary><c>{% call(params) macro(args) %}body{% endcall %}</c>: the body becomes the macro's <c>caller()</c>.</summary>
internal sealed record CallBlockNode(CallExpr Call, IReadOnlyList<MacroParameter> CallerParameters, IReadOnlyList<Node> Body, SourcePosition Position)
    : Node(Position);

internal sealed record FilterBlockNode(IReadOnlyList<FilterSpec> Filters, IReadOnlyList<Node> Body, SourcePosition Position) : Node(Position);

/// <summary>A body rendered in place, as <c>{% generation %}</c> is (HF only uses it to track assistant spans).</summary>
internal sealed record BlockNode(IReadOnlyList<Node> Body, SourcePosition Position) : Node(Position);

internal sealed record BreakNode(SourcePosition Position) : Node(Position);

internal sealed record ContinueNode(SourcePosition Position) : Node(Position);
