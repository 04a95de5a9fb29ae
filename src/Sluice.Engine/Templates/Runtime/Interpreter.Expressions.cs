using System.Text;
using Sluice.Engine.Templates.Ast;

namespace Sluice.Engine.Templates.Runtime;

internal sealed partial class Interpreter
{
    public Value Evaluate(Expr expression, Scope scope)
    {
        switch (expression)
        {
            case LiteralExpr literal:
                return literal.Value;
            case NameExpr name:
                return scope.Get(name.Name);
            case ListExpr list:
                State.CheckCollectionLength(list.Items.Count);
                return new ListValue([.. list.Items.Select(item => Evaluate(item, scope))], list.IsTuple);
            case DictExpr dict:
                var result = new DictValue();
                foreach (var pair in dict.Pairs)
                {
                    result.Items[Evaluate(pair.Key, scope)] = Evaluate(pair.Value, scope);
                }

                return result;
            case AttributeExpr attribute:
                return Access.Attribute(Evaluate(attribute.Target, scope), attribute.Name);
            case ItemExpr item:
                return Access.Item(Evaluate(item.Target, scope), Evaluate(item.Index, scope));
            case SliceExpr slice:
                return Sequences.Slice(
                    Evaluate(slice.Target, scope),
                    SliceBound(slice.Start, scope),
                    SliceBound(slice.Stop, scope),
                    SliceBound(slice.Step, scope));
            case CallExpr call:
                return EvaluateCall(call, scope, caller: null);
            case FilterExpr filter:
                State.CheckTime();
                return filter.Filter.Function(State, Evaluate(filter.Input, scope), EvaluateArguments(filter.Filter.Arguments, scope));
            case TestExpr test:
                var passed = test.Function(State, Evaluate(test.Input, scope), EvaluateArguments(test.Arguments, scope));
                return BoolValue.Of(passed != test.Negated);
            case UnaryExpr unary:
                var operand = Evaluate(unary.Operand, scope);
                return unary.Operator switch
                {
                    UnaryOperator.Not => BoolValue.Of(!operand.IsTruthy),
                    UnaryOperator.Negate => Arithmetic.Negate(operand),
                    _ => Arithmetic.Plus(operand),
                };
            case BinaryExpr binary:
                return EvaluateBinary(binary, scope);
            case ConcatExpr concat:
                var builder = new StringBuilder();
                foreach (var part in concat.Parts)
                {
                    builder.Append(PyText.Str(Evaluate(part, scope), State));
                    State.CheckStringLength(builder.Length);
                }

                return new StringValue(builder.ToString());
            case CompareExpr compare:
                return BoolValue.Of(EvaluateCompare(compare, scope));
            case ConditionalExpr conditional:
                if (Evaluate(conditional.Condition, scope).IsTruthy)
                {
                    return Evaluate(conditional.Then, scope);
                }

                return conditional.Otherwise is null
                    ? new UndefinedValue("the inline if expression evaluated to false and no else section was defined")
                    : Evaluate(conditional.Otherwise, scope);
            default:
                throw Errors.Runtime($"unknown expression {expression.GetType().Name}");
        }
    }

    public Value EvaluateCall(CallExpr call, Scope scope, MacroValue? caller)
    {
        State.CheckTime();
        var callee = Evaluate(call.Callee, scope);
        var arguments = EvaluateArguments(call.Arguments, scope);
        return callee switch
        {
            MacroValue macro when caller is not null => macro.Invoke(State, arguments, caller),
            CallableValue callable => callable.Invoke(State, arguments),
            UndefinedValue undefined => throw undefined.Error(),
            _ => throw Errors.Runtime($"'{callee.TypeName}' object is not callable"),
        };
    }

    public Value ApplyFilters(IReadOnlyList<FilterSpec> filters, Value value, Scope scope)
    {
        foreach (var filter in filters)
        {
            value = filter.Function(State, value, EvaluateArguments(filter.Arguments, scope));
        }

        return value;
    }

    private Arguments EvaluateArguments(CallArguments arguments, Scope scope)
    {
        if (arguments.Positional.Count == 0 && arguments.Named.Count == 0)
        {
            return Arguments.Empty;
        }

        return new Arguments(
            [.. arguments.Positional.Select(a => Evaluate(a, scope))],
            [.. arguments.Named.Select(a => new KeyValuePair<string, Value>(a.Key, Evaluate(a.Value, scope)))]);
    }

    private long? SliceBound(Expr? bound, Scope scope)
    {
        if (bound is null)
        {
            return null;
        }

        var value = Evaluate(bound, scope);
        return value switch
        {
            NoneValue => null,
            IntValue i => i.Value,
            BoolValue b => b.Value ? 1 : 0,
            UndefinedValue u => throw u.Error(),
            _ => throw Errors.Runtime("slice indices must be integers or None"),
        };
    }

    private Value EvaluateBinary(BinaryExpr binary, Scope scope)
    {
        var left = Evaluate(binary.Left, scope);
        switch (binary.Operator)
        {
            // Python's and/or return an operand, not a bool.
            case BinaryOperator.And:
                return left.IsTruthy ? Evaluate(binary.Right, scope) : left;
            case BinaryOperator.Or:
                return left.IsTruthy ? left : Evaluate(binary.Right, scope);
        }

        var right = Evaluate(binary.Right, scope);
        return binary.Operator switch
        {
            BinaryOperator.Add => Arithmetic.Add(State, left, right),
            BinaryOperator.Subtract => Arithmetic.Subtract(left, right),
            BinaryOperator.Multiply => Arithmetic.Multiply(State, left, right),
            BinaryOperator.Divide => Arithmetic.Divide(left, right),
            BinaryOperator.FloorDivide => Arithmetic.FloorDivide(left, right),
            BinaryOperator.Modulo => Arithmetic.Modulo(State, left, right),
            _ => Arithmetic.Power(left, right),
        };
    }

    private bool EvaluateCompare(CompareExpr compare, Scope scope)
    {
        var left = Evaluate(compare.First, scope);
        foreach (var (op, rightExpr) in compare.Rest)
        {
            var right = Evaluate(rightExpr, scope);
            var holds = op switch
            {
                CompareOperator.Equal => Comparison.Equal(left, right),
                CompareOperator.NotEqual => !Comparison.Equal(left, right),
                CompareOperator.Less => Comparison.Compare(left, right, "<") < 0,
                CompareOperator.LessOrEqual => Comparison.Compare(left, right, "<=") <= 0,
                CompareOperator.Greater => Comparison.Compare(left, right, ">") > 0,
                CompareOperator.GreaterOrEqual => Comparison.Compare(left, right, ">=") >= 0,
                CompareOperator.In => Comparison.Contains(right, left),
                _ => !Comparison.Contains(right, left),
            };
            if (!holds)
            {
                return false;
            }

            left = right;
        }

        return true;
    }
}
