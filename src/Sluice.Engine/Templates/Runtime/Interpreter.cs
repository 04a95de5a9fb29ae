using Sluice.Engine.Templates.Ast;

namespace Sluice.Engine.Templates.Runtime;

/// <summary>How a run of statements ended: normally, or at a <c>break</c> or <c>continue</c> for the enclosing loop.</summary>
internal enum Flow
{
    Normal,
    Break,
    Continue,
}

/// <summary>
/// Walks the syntax tree of one render. Statements are here; expressions are in
/// <c>Interpreter.Expressions.cs</c>. Errors raised without a position get the position of the statement
/// that raised them.
/// </summary>
internal sealed partial class Interpreter(RenderState state)
{
    public RenderState State { get; } = state;

    public string Render(IReadOnlyList<Node> body, Scope scope)
    {
        var output = new OutputBuffer(State.Limits.MaxOutputLength);
        Execute(body, scope, output);
        return output.ToString();
    }

    public Flow Execute(IReadOnlyList<Node> nodes, Scope scope, OutputBuffer output)
    {
        foreach (var node in nodes)
        {
            Flow flow;
            try
            {
                flow = ExecuteNode(node, scope, output);
            }
            catch (TemplateException e) when (e.Line == 0)
            {
                throw node.Position.Error(e.Kind, e.Reason);
            }

            if (flow != Flow.Normal)
            {
                return flow;
            }
        }

        return Flow.Normal;
    }

    private Flow ExecuteNode(Node node, Scope scope, OutputBuffer output)
    {
        switch (node)
        {
            case TextNode text:
                output.Append(text.Text);
                return Flow.Normal;
            case OutputNode print:
                output.Append(PyText.Str(Evaluate(print.Expression, scope), State));
                return Flow.Normal;
            case IfNode branch:
                foreach (var candidate in branch.Branches)
                {
                    if (Evaluate(candidate.Condition, scope).IsTruthy)
                    {
                        return Execute(candidate.Body, scope, output);
                    }
                }

                return branch.Else is null ? Flow.Normal : Execute(branch.Else, scope, output);
            case ForNode loop:
                ExecuteFor(loop, scope, output);
                return Flow.Normal;
            case SetNode set:
                Assign(set.Target, Evaluate(set.Value, scope), scope);
                return Flow.Normal;
            case SetBlockNode setBlock:
                scope.Set(setBlock.Name, ApplyFilters(setBlock.Filters, new StringValue(RenderBody(setBlock.Body, scope)), scope));
                return Flow.Normal;
            case MacroNode macro:
                scope.Set(macro.Name, new MacroValue(this, macro.Name, macro.Parameters, macro.Body, scope));
                return Flow.Normal;
            case CallBlockNode call:
                var caller = new MacroValue(this, "caller", call.CallerParameters, call.Body, scope);
                output.Append(PyText.Str(EvaluateCall(call.Call, scope, caller), State));
                return Flow.Normal;
            case FilterBlockNode filter:
                output.Append(PyText.Str(ApplyFilters(filter.Filters, new StringValue(RenderBody(filter.Body, scope)), scope), State));
                return Flow.Normal;
            case BlockNode block:
                return Execute(block.Body, scope, output);
            case BreakNode:
                return Flow.Break;
            case ContinueNode:
                return Flow.Continue;
            default:
                throw Errors.Runtime($"unknown statement {node.GetType().Name}");
        }
    }

    /// <summary>Renders a body into its own buffer, as block <c>set</c>, <c>filter</c> and macros do.</summary>
    public string RenderBody(IReadOnlyList<Node> body, Scope scope)
    {
        var buffer = new OutputBuffer(State.Limits.MaxOutputLength);
        Execute(body, scope, buffer);
        return buffer.ToString();
    }

    private void ExecuteFor(ForNode loop, Scope scope, OutputBuffer output)
    {
        var items = Sequences.Iterate(Evaluate(loop.Iterable, scope));
        if (loop.Filter is not null)
        {
            var kept = new List<Value>();
            foreach (var item in items)
            {
                State.CountIteration();
                var filterScope = new Scope(scope);
                Assign(loop.Target, item, filterScope);
                if (Evaluate(loop.Filter, filterScope).IsTruthy)
                {
                    kept.Add(item);
                }
            }

            items = kept;
        }

        if (items.Count == 0)
        {
            if (loop.Else is not null)
            {
                Execute(loop.Else, scope, output);
            }

            return;
        }

        for (var i = 0; i < items.Count; i++)
        {
            State.CountIteration();
            var iteration = new Scope(scope);
            Assign(loop.Target, items[i], iteration);
            iteration.Set("loop", new LoopValue(items, i));
            if (Execute(loop.Body, iteration, output) == Flow.Break)
            {
                break;
            }
        }
    }

    private static void Assign(AssignTarget target, Value value, Scope scope)
    {
        switch (target)
        {
            case NameTarget name:
                scope.Set(name.Name, value);
                break;
            case TupleTarget tuple:
                var items = Sequences.Iterate(value);
                if (items.Count != tuple.Names.Count)
                {
                    throw Errors.Runtime(items.Count > tuple.Names.Count
                        ? $"too many values to unpack (expected {tuple.Names.Count})"
                        : $"not enough values to unpack (expected {tuple.Names.Count}, got {items.Count})");
                }

                for (var i = 0; i < items.Count; i++)
                {
                    scope.Set(tuple.Names[i], items[i]);
                }

                break;
            case AttributeTarget attribute:
                if (scope.Get(attribute.Object) is not NamespaceValue ns)
                {
                    throw Errors.Runtime("cannot assign attribute on non-namespace object");
                }

                ns.Attributes[attribute.Attribute] = value;
                break;
        }
    }
}
