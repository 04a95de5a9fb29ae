using Sluice.Engine.Templates.Builtins;

namespace Sluice.Engine.Templates.Runtime;

/// <summary>
/// Python's arithmetic on template values: ints stay exact (64-bit, overflow is an error), mixing in a float
/// gives a float, <c>/</c> always gives a float, <c>//</c> and <c>%</c> round toward negative infinity, and
/// <c>+</c> and <c>*</c> also join and repeat strings and lists, within the render's size limits.
/// </summary>
internal static class Arithmetic
{
    public static Value Add(RenderState state, Value left, Value right)
    {
        FailIfUndefined(left, right);
        if (Comparison.TryNumber(left, out var li, out var ld, out var lf) && Comparison.TryNumber(right, out var ri, out var rd, out var rf))
        {
            return lf || rf ? new FloatValue(ld + rd) : IntValue.Of(Checked(() => checked(li + ri)));
        }

        switch (left, right)
        {
            case (StringValue a, StringValue b):
                state.CheckStringLength((long)a.Value.Length + b.Value.Length);
                return new StringValue(a.Value + b.Value);
            case (ListValue a, ListValue b) when a.IsTuple == b.IsTuple:
                state.CheckCollectionLength((long)a.Items.Count + b.Items.Count);
                return new ListValue([.. a.Items, .. b.Items], a.IsTuple);
            case (StringValue, _):
                throw Errors.Runtime($"can only concatenate str (not \"{right.TypeName}\") to str");
            default:
                throw Errors.Unsupported("+", left, right);
        }
    }

    public static Value Subtract(Value left, Value right)
    {
        FailIfUndefined(left, right);
        if (Comparison.TryNumber(left, out var li, out var ld, out var lf) && Comparison.TryNumber(right, out var ri, out var rd, out var rf))
        {
            return lf || rf ? new FloatValue(ld - rd) : IntValue.Of(Checked(() => checked(li - ri)));
        }

        throw Errors.Unsupported("-", left, right);
    }

    public static Value Multiply(RenderState state, Value left, Value right)
    {
        FailIfUndefined(left, right);
        if (Comparison.TryNumber(left, out var li, out var ld, out var lf) && Comparison.TryNumber(right, out var ri, out var rd, out var rf))
        {
            return lf || rf ? new FloatValue(ld * rd) : IntValue.Of(Checked(() => checked(li * ri)));
        }

        var (sequence, count) = right is IntValue or BoolValue ? (left, right) : (right, left);
        if (!Comparison.TryNumber(count, out var times, out _, out var isFloat) || isFloat)
        {
            throw Errors.Unsupported("*", left, right);
        }

        times = Math.Max(0, times);
        if (sequence is StringValue { Value.Length: 0 } || sequence is ListValue { Items.Count: 0 })
        {
            times = 0;
        }

        switch (sequence)
        {
            case StringValue text:
                state.CheckStringLength(text.Value.Length * Math.Min(times, int.MaxValue));
                return new StringValue(string.Concat(Enumerable.Repeat(text.Value, (int)times)));
            case ListValue list:
                state.CheckCollectionLength(list.Items.Count * Math.Min(times, int.MaxValue));
                var items = new List<Value>();
                for (var i = 0; i < times; i++)
                {
                    items.AddRange(list.Items);
                }

                return new ListValue(items, list.IsTuple);
            default:
                throw Errors.Unsupported("*", left, right);
        }
    }

    public static Value Divide(Value left, Value right)
    {
        var (l, r) = Reals(left, right, "/");
        return r == 0 ? throw Errors.Runtime("division by zero") : new FloatValue(l / r);
    }

    public static Value FloorDivide(Value left, Value right)
    {
        FailIfUndefined(left, right);
        if (Comparison.TryNumber(left, out var li, out _, out var lf) && Comparison.TryNumber(right, out var ri, out _, out var rf) && !lf && !rf)
        {
            if (ri == 0)
            {
                throw Errors.Runtime("integer division or modulo by zero");
            }

            var quotient = Checked(() => checked(li / ri));
            return IntValue.Of(li % ri != 0 && (li < 0) != (ri < 0) ? quotient - 1 : quotient);
        }

        var (l, r) = Reals(left, right, "//");
        return r == 0 ? throw Errors.Runtime("float floor division by zero") : new FloatValue(Math.Floor(l / r));
    }

    public static Value Modulo(RenderState state, Value left, Value right)
    {
        FailIfUndefined(left, right);
        if (left is StringValue format)
        {
            return new StringValue(state.CheckString(PyFormatting.Percent(state, format.Value, right)));
        }

        if (Comparison.TryNumber(left, out var li, out _, out var lf) && Comparison.TryNumber(right, out var ri, out _, out var rf) && !lf && !rf)
        {
            if (ri == 0)
            {
                throw Errors.Runtime("integer division or modulo by zero");
            }

            var remainder = ri == -1 ? 0 : li % ri;
            return IntValue.Of(remainder != 0 && (remainder < 0) != (ri < 0) ? remainder + ri : remainder);
        }

        var (l, r) = Reals(left, right, "%");
        if (r == 0)
        {
            throw Errors.Runtime("float modulo");
        }

        var mod = l % r;
        return new FloatValue(mod != 0 && (mod < 0) != (r < 0) ? mod + r : mod);
    }

    public static Value Power(Value left, Value right)
    {
        FailIfUndefined(left, right);
        if (Comparison.TryNumber(left, out var li, out _, out var lf) && Comparison.TryNumber(right, out var ri, out _, out var rf) && !lf && !rf && ri >= 0)
        {
            return IntValue.Of(Checked(() => IntegerPower(li, ri)));
        }

        var (l, r) = Reals(left, right, "** or pow()");
        if (l == 0 && r < 0)
        {
            throw Errors.Runtime("0.0 cannot be raised to a negative power");
        }

        return new FloatValue(Math.Pow(l, r));
    }

    public static Value Negate(Value operand) => operand switch
    {
        UndefinedValue u => throw u.Error(),
        IntValue i => IntValue.Of(Checked(() => checked(-i.Value))),
        BoolValue b => IntValue.Of(b.Value ? -1 : 0),
        FloatValue f => new FloatValue(-f.Value),
        _ => throw Errors.Runtime($"bad operand type for unary -: '{operand.TypeName}'"),
    };

    public static Value Plus(Value operand) => operand switch
    {
        UndefinedValue u => throw u.Error(),
        IntValue or FloatValue => operand,
        BoolValue b => IntValue.Of(b.Value ? 1 : 0),
        _ => throw Errors.Runtime($"bad operand type for unary +: '{operand.TypeName}'"),
    };

    private static long IntegerPower(long value, long exponent)
    {
        long result = 1;
        while (exponent > 0)
        {
            if ((exponent & 1) == 1)
            {
                result = checked(result * value);
            }

            exponent >>= 1;
            if (exponent > 0)
            {
                value = checked(value * value);
            }
        }

        return result;
    }

    private static (double Left, double Right) Reals(Value left, Value right, string op)
    {
        FailIfUndefined(left, right);
        if (Comparison.TryNumber(left, out _, out var l, out _) && Comparison.TryNumber(right, out _, out var r, out _))
        {
            return (l, r);
        }

        throw Errors.Unsupported(op, left, right);
    }

    private static void FailIfUndefined(Value left, Value right)
    {
        if (left is UndefinedValue ul)
        {
            throw ul.Error();
        }

        if (right is UndefinedValue ur)
        {
            throw ur.Error();
        }
    }

    private static long Checked(Func<long> operation)
    {
        try
        {
            return operation();
        }
        catch (OverflowException)
        {
            throw Errors.Runtime("integer overflow: results past 64 bits are not supported");
        }
    }
}
