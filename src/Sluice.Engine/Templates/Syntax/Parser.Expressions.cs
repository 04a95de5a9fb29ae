using Sluice.Engine.Templates.Ast;
using Sluice.Engine.Templates.Builtins;
using Sluice.Engine.Templates.Runtime;

namespace Sluice.Engine.Templates.Syntax;

/// <summary>
/// Jinja's expression grammar, loosest first: conditional, <c>or</c>, <c>and</c>, <c>not</c>, comparisons
/// (including <c>in</c>), <c>+ -</c>, <c>~</c>, <c>* / // %</c>, <c>**</c>, unary <c>- +</c>, then primaries
/// with their postfix <c>.attr [item] (call)</c> and filters/tests (<c>| f</c>, <c>is t</c>). Note two
/// places where Jinja differs from Python and this follows Jinja: <c>~</c> binds tighter than <c>+</c>, and
/// <c>-2 ** 2</c> is <c>(-2) ** 2</c>.
/// </summary>
internal sealed partial class Parser
{
    private Expr ParseExpression(bool withConditional = true)
    {
        Enter(Current.Position);
        var expr = withConditional ? ParseConditional() : ParseOr();
        Exit();
        return expr;
    }

    /// <summary>An expression, or a tuple when commas follow (<c>{{ a, b }}</c>, <c>set x = 1, 2</c>).</summary>
    private Expr ParseTupleOrExpression()
    {
        var position = Current.Position;
        var first = ParseExpression();
        if (!Current.IsOperator(","))
        {
            return first;
        }

        var items = new List<Expr> { first };
        while (SkipOperator(","))
        {
            if (Current.Kind is TokenKind.BlockEnd or TokenKind.VariableEnd)
            {
                break;
            }

            items.Add(ParseExpression());
        }

        return new ListExpr(items, IsTuple: true, position);
    }

    private Expr ParseConditional()
    {
        var expr = ParseOr();
        while (Current.IsName("if"))
        {
            var position = Advance().Position;
            var condition = ParseOr();
            var otherwise = SkipName("else") ? ParseConditional() : null;
            expr = new ConditionalExpr(condition, expr, otherwise, position);
        }

        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var position = Advance().Position;
            left = new BinaryExpr(BinaryOperator.Or, left, ParseAnd(), position);
        }

        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var position = Advance().Position;
            left = new BinaryExpr(BinaryOperator.And, left, ParseNot(), position);
        }

        return left;
    }

    private Expr ParseNot()
    {
        if (!Current.IsName("not"))
        {
            return ParseCompare();
        }

        var position = Advance().Position;
        Enter(position);
        var operand = ParseNot();
        Exit();
        return new UnaryExpr(UnaryOperator.Not, operand, position);
    }

    private Expr ParseCompare()
    {
        var position = Current.Position;
        var first = ParseMath1();
        var rest = new List<KeyValuePair<CompareOperator, Expr>>();
        while (true)
        {
            CompareOperator op;
            if (Current.Kind == TokenKind.Operator && TryCompareOperator(Current.Text, out op))
            {
                Advance();
            }
            else if (Current.IsName("in"))
            {
                Advance();
                op = CompareOperator.In;
            }
            else if (Current.IsName("not") && Peek().IsName("in"))
            {
                Advance();
                Advance();
                op = CompareOperator.NotIn;
            }
            else
            {
                break;
            }

            rest.Add(new(op, ParseMath1()));
        }

        return rest.Count == 0 ? first : new CompareExpr(first, rest, position);
    }

    private static bool TryCompareOperator(string text, out CompareOperator op)
    {
        op = text switch
        {
            "==" => CompareOperator.Equal,
            "!=" => CompareOperator.NotEqual,
            "<" => CompareOperator.Less,
            "<=" => CompareOperator.LessOrEqual,
            ">" => CompareOperator.Greater,
            ">=" => CompareOperator.GreaterOrEqual,
            _ => (CompareOperator)(-1),
        };
        return (int)op >= 0;
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            var token = Advance();
            var op = token.Text == "+" ? BinaryOperator.Add : BinaryOperator.Subtract;
            left = new BinaryExpr(op, left, ParseConcat(), token.Position);
        }

        return left;
    }

    private Expr ParseConcat()
    {
        var position = Current.Position;
        var first = ParseMath2();
        if (!Current.IsOperator("~"))
        {
            return first;
        }

        var parts = new List<Expr> { first };
        while (SkipOperator("~"))
        {
            parts.Add(ParseMath2());
        }

        return new ConcatExpr(parts, position);
    }

    private Expr ParseMath2()
    {
        var left = ParsePower();
        while (Current.Kind == TokenKind.Operator && Current.Text is "*" or "/" or "//" or "%")
        {
            var token = Advance();
            var op = token.Text switch
            {
                "*" => BinaryOperator.Multiply,
                "/" => BinaryOperator.Divide,
                "//" => BinaryOperator.FloorDivide,
                _ => BinaryOperator.Modulo,
            };
            left = new BinaryExpr(op, left, ParsePower(), token.Position);
        }

        return left;
    }

    private Expr ParsePower()
    {
        var left = ParseUnary(withFilters: true);
        while (Current.IsOperator("**"))
        {
            var token = Advance();
            left = new BinaryExpr(BinaryOperator.Power, left, ParseUnary(withFilters: true), token.Position);
        }

        return left;
    }

    private Expr ParseUnary(bool withFilters)
    {
        var token = Current;
        Expr node;
        if (token.IsOperator("-") || token.IsOperator("+"))
        {
            Advance();
            Enter(token.Position);
            var operand = ParseUnary(withFilters: false);
            Exit();
            node = new UnaryExpr(token.Text == "-" ? UnaryOperator.Negate : UnaryOperator.Plus, operand, token.Position);
        }
        else
        {
            node = ParsePostfix(ParsePrimary());
        }

        return withFilters ? ParseFilterChain(node) : node;
    }

    private Expr ParsePrimary()
    {
        var token = Advance();
        switch (token.Kind)
        {
            case TokenKind.Name:
                return token.Text switch
                {
                    "true" or "True" => new LiteralExpr(BoolValue.True, token.Position),
                    "false" or "False" => new LiteralExpr(BoolValue.False, token.Position),
                    "none" or "None" => new LiteralExpr(NoneValue.Instance, token.Position),
                    _ => new NameExpr(token.Text, token.Position),
                };
            case TokenKind.String:
                // Adjacent literals join, as in Python: 'a' "b" is "ab".
                var text = token.Text;
                while (Current.Kind == TokenKind.String)
                {
                    text += Advance().Text;
                }

                return new LiteralExpr(new StringValue(text), token.Position);
            case TokenKind.Integer:
                return new LiteralExpr(IntValue.Of(token.Integer), token.Position);
            case TokenKind.Float:
                return new LiteralExpr(new FloatValue(token.Float), token.Position);
            case TokenKind.Operator when token.Text == "(":
                return ParseParenthesised(token);
            case TokenKind.Operator when token.Text == "[":
                return new ListExpr(ParseSequence("]"), IsTuple: false, token.Position);
            case TokenKind.Operator when token.Text == "{":
                return ParseDict(token);
            default:
                throw token.Position.SyntaxError($"unexpected {token.Describe()}");
        }
    }

    private Expr ParseParenthesised(Token open)
    {
        Enter(open.Position);
        if (SkipOperator(")"))
        {
            Exit();
            return new ListExpr([], IsTuple: true, open.Position);
        }

        var first = ParseExpression();
        if (SkipOperator(")"))
        {
            Exit();
            return first;
        }

        var items = new List<Expr> { first };
        while (SkipOperator(","))
        {
            if (Current.IsOperator(")"))
            {
                break;
            }

            items.Add(ParseExpression());
        }

        ExpectOperator(")");
        Exit();
        return new ListExpr(items, IsTuple: true, open.Position);
    }

    private List<Expr> ParseSequence(string close)
    {
        var items = new List<Expr>();
        while (!SkipOperator(close))
        {
            if (items.Count > 0)
            {
                ExpectOperator(",");
                if (SkipOperator(close))
                {
                    break;
                }
            }

            items.Add(ParseExpression());
        }

        return items;
    }

    private DictExpr ParseDict(Token open)
    {
        var pairs = new List<KeyValuePair<Expr, Expr>>();
        while (!SkipOperator("}"))
        {
            if (pairs.Count > 0)
            {
                ExpectOperator(",");
                if (SkipOperator("}"))
                {
                    break;
                }
            }

            var key = ParseExpression();
            ExpectOperator(":");
            pairs.Add(new(key, ParseExpression()));
        }

        return new DictExpr(pairs, open.Position);
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var token = Current;
            if (token.IsOperator("."))
            {
                Advance();
                var name = Advance();
                node = name.Kind switch
                {
                    TokenKind.Name => new AttributeExpr(node, name.Text, token.Position),
                    TokenKind.Integer => new ItemExpr(node, new LiteralExpr(IntValue.Of(name.Integer), name.Position), token.Position),
                    _ => throw name.Position.SyntaxError($"expected an attribute name after '.', got {name.Describe()}"),
                };
            }
            else if (token.IsOperator("["))
            {
                Advance();
                node = ParseSubscript(node, token);
            }
            else if (token.IsOperator("("))
            {
                Advance();
                node = new CallExpr(node, ParseCallArguments(), token.Position);
            }
            else
            {
                return node;
            }
        }
    }

    private Expr ParseSubscript(Expr target, Token open)
    {
        Enter(open.Position);
        Expr? start = null;
        if (!Current.IsOperator(":"))
        {
            start = ParseExpression();
            if (SkipOperator("]"))
            {
                Exit();
                return new ItemExpr(target, start, open.Position);
            }
        }

        ExpectOperator(":");
        Expr? stop = null;
        Expr? step = null;
        if (!Current.IsOperator("]") && !Current.IsOperator(":"))
        {
            stop = ParseExpression();
        }

        if (SkipOperator(":") && !Current.IsOperator("]"))
        {
            step = ParseExpression();
        }

        ExpectOperator("]");
        Exit();
        return new SliceExpr(target, start, stop, step, open.Position);
    }

    /// <summary>Arguments after an opening parenthesis, through the closing one.</summary>
    private CallArguments ParseCallArguments()
    {
        var positional = new List<Expr>();
        var named = new List<KeyValuePair<string, Expr>>();
        var first = true;
        while (!SkipOperator(")"))
        {
            if (!first)
            {
                ExpectOperator(",");
                if (SkipOperator(")"))
                {
                    break;
                }
            }

            first = false;
            if (Current.IsOperator("*") || Current.IsOperator("**"))
            {
                throw Current.Position.SyntaxError("*args and **kwargs in calls are not supported");
            }

            if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
            {
                var name = Advance().Text;
                Advance();
                named.Add(new(name, ParseExpression()));
            }
            else if (named.Count > 0)
            {
                throw Current.Position.SyntaxError("positional argument follows keyword argument");
            }
            else
            {
                positional.Add(ParseExpression());
            }
        }

        return positional.Count == 0 && named.Count == 0 ? CallArguments.None : new CallArguments(positional, named);
    }

    private Expr ParseFilterChain(Expr node)
    {
        while (true)
        {
            var token = Current;
            if (token.IsOperator("|"))
            {
                Advance();
                node = new FilterExpr(node, ParseFilterSpec(), token.Position);
            }
            else if (token.IsName("is"))
            {
                Advance();
                node = ParseTest(node, token);
            }
            else if (token.IsOperator("("))
            {
                Advance();
                node = new CallExpr(node, ParseCallArguments(), token.Position);
            }
            else
            {
                return node;
            }
        }
    }

    private FilterSpec ParseFilterSpec()
    {
        var token = Current;
        var name = ExpectName("a filter name");
        if (!Filters.TryGet(name, out var function))
        {
            throw token.Position.SyntaxError($"No filter named '{name}'.");
        }

        var arguments = SkipOperator("(") ? ParseCallArguments() : CallArguments.None;
        return new FilterSpec(name, function, arguments, token.Position);
    }

    private TestExpr ParseTest(Expr input, Token isToken)
    {
        var negated = SkipName("not");
        var nameToken = Current;
        var name = ExpectName("a test name");
        if (!TestFunctions.TryGet(name, out var function))
        {
            throw nameToken.Position.SyntaxError($"No test named '{name}'.");
        }

        var arguments = CallArguments.None;
        if (SkipOperator("("))
        {
            arguments = ParseCallArguments();
        }
        else if (StartsTestArgument(Current))
        {
            // "x is divisibleby 3", "role is equalto 'user'": one argument without parentheses.
            arguments = new CallArguments([ParsePostfix(ParsePrimary())], []);
        }

        return new TestExpr(input, name, function, arguments, negated, isToken.Position);
    }

    private static bool StartsTestArgument(Token token) => token.Kind switch
    {
        TokenKind.Name => token.Text is not ("else" or "or" or "and" or "if" or "in" or "not" or "is"),
        TokenKind.String or TokenKind.Integer or TokenKind.Float => true,
        TokenKind.Operator => token.Text is "[" or "{",
        _ => false,
    };
}
