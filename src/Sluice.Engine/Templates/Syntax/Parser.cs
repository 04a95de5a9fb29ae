using System.Runtime.CompilerServices;
using Sluice.Engine.Templates.Ast;

namespace Sluice.Engine.Templates.Syntax;

/// <summary>
/// Recursive-descent parser of the Jinja subset chat templates use. This file holds the statements; the
/// expression grammar is in <c>Parser.Expressions.cs</c>. Nesting is bounded by
/// <see cref="TemplateLimits.MaxParseDepth"/> so a hostile template cannot overflow the stack.
/// </summary>
internal sealed partial class Parser
{
    private readonly List<Token> _tokens;
    private readonly int _maxDepth;
    private int _index;
    private int _depth;
    private int _loopDepth;

    private Parser(List<Token> tokens, int maxDepth)
    {
        _tokens = tokens;
        _maxDepth = maxDepth;
    }

    public static IReadOnlyList<Node> Parse(string source, int maxDepth)
    {
        var parser = new Parser(Lexer.Tokenize(source), maxDepth);
        var body = parser.ParseBody([]);
        if (parser.Current.Kind != TokenKind.EndOfInput)
        {
            throw parser.Current.Position.SyntaxError($"Encountered unknown tag '{parser.Current.Text}'.");
        }

        return body;
    }

    private Token Current => _tokens[_index];

    private Token Peek(int offset = 1) => _tokens[Math.Min(_index + offset, _tokens.Count - 1)];

    private Token Advance()
    {
        var token = _tokens[_index];
        if (_index < _tokens.Count - 1)
        {
            _index++;
        }

        return token;
    }

    private bool SkipOperator(string op)
    {
        if (!Current.IsOperator(op))
        {
            return false;
        }

        Advance();
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name))
        {
            return false;
        }

        Advance();
        return true;
    }

    private Token ExpectOperator(string op)
    {
        if (!Current.IsOperator(op))
        {
            throw Current.Position.SyntaxError($"expected '{op}', got {Current.Describe()}");
        }

        return Advance();
    }

    private string ExpectName(string what)
    {
        if (Current.Kind != TokenKind.Name)
        {
            throw Current.Position.SyntaxError($"expected {what}, got {Current.Describe()}");
        }

        return Advance().Text;
    }

    private void ExpectBlockEnd()
    {
        if (Current.Kind != TokenKind.BlockEnd)
        {
            throw Current.Position.SyntaxError($"expected end of statement block, got {Current.Describe()}");
        }

        Advance();
    }

    private void Enter(SourcePosition position)
    {
        if (++_depth > _maxDepth || !RuntimeHelpers.TryEnsureSufficientExecutionStack())
        {
            throw position.SyntaxError($"template nesting deeper than {_maxDepth} levels");
        }
    }

    private void Exit() => _depth--;

    /// <summary>
    /// Parses nodes until end of input or a statement whose keyword is one of <paramref name="endTags"/>;
    /// then the cursor rests on that keyword (just after <c>{%</c>).
    /// </summary>
    private List<Node> ParseBody(string[] endTags)
    {
        var body = new List<Node>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.EndOfInput:
                    if (endTags.Length > 0)
                    {
                        var expected = string.Join(" or ", endTags.Select(t => $"'{t}'"));
                        throw token.Position.SyntaxError($"Unexpected end of template. Jinja was looking for the following tags: {expected}.");
                    }

                    return body;
                case TokenKind.Text:
                    Advance();
                    body.Add(new TextNode(token.Text, token.Position));
                    break;
                case TokenKind.VariableBegin:
                    Advance();
                    var expression = ParseTupleOrExpression();
                    if (Current.Kind != TokenKind.VariableEnd)
                    {
                        throw Current.Position.SyntaxError($"expected end of print statement, got {Current.Describe()}");
                    }

                    Advance();
                    body.Add(new OutputNode(expression, token.Position));
                    break;
                case TokenKind.BlockBegin:
                    Advance();
                    if (Current.Kind == TokenKind.Name && endTags.Contains(Current.Text))
                    {
                        return body;
                    }

                    body.Add(ParseStatement(token.Position, endTags));
                    break;
                default:
                    throw token.Position.SyntaxError($"unexpected {token.Describe()}");
            }
        }
    }

    private Node ParseStatement(SourcePosition position, string[] endTags)
    {
        var keyword = Current;
        if (keyword.Kind != TokenKind.Name)
        {
            throw keyword.Position.SyntaxError($"expected a statement keyword, got {keyword.Describe()}");
        }

        Enter(keyword.Position);
        Advance();
        var node = keyword.Text switch
        {
            "if" => ParseIf(position),
            "for" => ParseFor(position),
            "set" => ParseSet(position),
            "macro" => ParseMacro(position),
            "call" => ParseCallBlock(position),
            "filter" => ParseFilterBlock(position),
            "generation" => ParseGeneration(position),
            "break" or "continue" => ParseLoopControl(keyword, position),
            _ => throw UnknownTag(keyword, endTags),
        };
        Exit();
        return node;
    }

    private static TemplateException UnknownTag(Token keyword, string[] endTags)
    {
        var message = keyword.Text switch
        {
            "include" or "import" or "from" or "extends" or "block" =>
                $"'{keyword.Text}' is not supported: chat templates are rendered without a loader",
            _ => $"Encountered unknown tag '{keyword.Text}'.",
        };
        if (endTags.Length > 0)
        {
            message += $" Jinja was looking for the following tags: {string.Join(" or ", endTags.Select(t => $"'{t}'"))}.";
        }

        return keyword.Position.SyntaxError(message);
    }

    private IfNode ParseIf(SourcePosition position)
    {
        var branches = new List<IfBranch>();
        IReadOnlyList<Node>? otherwise = null;
        var condition = ParseExpression();
        while (true)
        {
            ExpectBlockEnd();
            var body = ParseBody(["elif", "else", "endif"]);
            branches.Add(new IfBranch(condition, body));
            var tag = Advance().Text;
            if (tag == "elif")
            {
                condition = ParseExpression();
                continue;
            }

            if (tag == "else")
            {
                ExpectBlockEnd();
                otherwise = ParseBody(["endif"]);
                Advance();
            }

            ExpectBlockEnd();
            return new IfNode(branches, otherwise, position);
        }
    }

    private ForNode ParseFor(SourcePosition position)
    {
        var target = ParseAssignTarget(allowAttribute: false);
        if (!SkipName("in"))
        {
            throw Current.Position.SyntaxError($"expected 'in', got {Current.Describe()}");
        }

        // No conditional expression here: a trailing "if" filters the loop instead.
        var iterable = ParseOr();
        Expr? filter = null;
        if (SkipName("if"))
        {
            filter = ParseExpression();
        }

        if (Current.IsName("recursive"))
        {
            throw Current.Position.SyntaxError("recursive for loops are not supported");
        }

        ExpectBlockEnd();
        _loopDepth++;
        var body = ParseBody(["endfor", "else"]);
        _loopDepth--;
        IReadOnlyList<Node>? otherwise = null;
        if (Advance().Text == "else")
        {
            ExpectBlockEnd();
            otherwise = ParseBody(["endfor"]);
            Advance();
        }

        ExpectBlockEnd();
        return new ForNode(target, iterable, filter, body, otherwise, position);
    }

    private AssignTarget ParseAssignTarget(bool allowAttribute)
    {
        var first = ExpectName("a variable name");
        if (allowAttribute && SkipOperator("."))
        {
            return new AttributeTarget(first, ExpectName("an attribute name"));
        }

        if (!Current.IsOperator(","))
        {
            return new NameTarget(first);
        }

        var names = new List<string> { first };
        while (SkipOperator(","))
        {
            if (Current.Kind != TokenKind.Name || Current.IsName("in"))
            {
                break;
            }

            names.Add(Advance().Text);
        }

        return new TupleTarget(names);
    }

    private Node ParseSet(SourcePosition position)
    {
        var target = ParseAssignTarget(allowAttribute: true);
        if (SkipOperator("="))
        {
            var value = ParseTupleOrExpression();
            ExpectBlockEnd();
            return new SetNode(target, value, position);
        }

        if (target is not NameTarget name)
        {
            throw Current.Position.SyntaxError("a block set needs a single variable name");
        }

        var filters = new List<FilterSpec>();
        while (SkipOperator("|"))
        {
            filters.Add(ParseFilterSpec());
        }

        ExpectBlockEnd();
        var body = ParseBody(["endset"]);
        Advance();
        ExpectBlockEnd();
        return new SetBlockNode(name.Name, filters, body, position);
    }

    private MacroNode ParseMacro(SourcePosition position)
    {
        var name = ExpectName("a macro name");
        var parameters = ParseParameters();
        ExpectBlockEnd();
        var outerLoops = _loopDepth;
        _loopDepth = 0;
        var body = ParseBody(["endmacro"]);
        _loopDepth = outerLoops;
        Advance();
        ExpectBlockEnd();
        return new MacroNode(name, parameters, body, position);
    }

    private List<MacroParameter> ParseParameters()
    {
        var parameters = new List<MacroParameter>();
        ExpectOperator("(");
        while (!SkipOperator(")"))
        {
            if (parameters.Count > 0)
            {
                ExpectOperator(",");
                if (SkipOperator(")"))
                {
                    break;
                }
            }

            var name = ExpectName("a parameter name");
            var fallback = SkipOperator("=") ? ParseExpression() : null;
            parameters.Add(new MacroParameter(name, fallback));
        }

        return parameters;
    }

    private CallBlockNode ParseCallBlock(SourcePosition position)
    {
        var callerParameters = Current.IsOperator("(") ? ParseParameters() : [];
        var call = ParseExpression() as CallExpr
            ?? throw Current.Position.SyntaxError("expected a macro call after 'call'");
        ExpectBlockEnd();
        var body = ParseBody(["endcall"]);
        Advance();
        ExpectBlockEnd();
        return new CallBlockNode(call, callerParameters, body, position);
    }

    private FilterBlockNode ParseFilterBlock(SourcePosition position)
    {
        var filters = new List<FilterSpec> { ParseFilterSpec() };
        while (SkipOperator("|"))
        {
            filters.Add(ParseFilterSpec());
        }

        ExpectBlockEnd();
        var body = ParseBody(["endfilter"]);
        Advance();
        ExpectBlockEnd();
        return new FilterBlockNode(filters, body, position);
    }

    private BlockNode ParseGeneration(SourcePosition position)
    {
        ExpectBlockEnd();
        var body = ParseBody(["endgeneration"]);
        Advance();
        ExpectBlockEnd();
        return new BlockNode(body, position);
    }

    private Node ParseLoopControl(Token keyword, SourcePosition position)
    {
        if (_loopDepth == 0)
        {
            throw keyword.Position.SyntaxError($"'{keyword.Text}' outside of a loop");
        }

        ExpectBlockEnd();
        return keyword.Text == "break" ? new BreakNode(position) : new ContinueNode(position);
    }
}
