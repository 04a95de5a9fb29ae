namespace Sluice.Engine.Templates.Syntax;

internal enum TokenKind
{
    /// <summary>Literal template text, already trimmed by whitespace control.</summary>
    Text,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    EndOfInput,
}

/// <summary>
/// A lexer token. <see cref="Text"/> is the decoded value for strings and text, the spelling otherwise;
/// numbers carry their parsed value.
/// </summary>
internal sealed record Token(TokenKind Kind, string Text, SourcePosition Position)
{
    public long Integer { get; init; }

    public double Float { get; init; }

    public bool IsOperator(string op) => Kind == TokenKind.Operator && Text == op;

    public bool IsName(string name) => Kind == TokenKind.Name && Text == name;

    public string Describe() => Kind switch
    {
        TokenKind.EndOfInput => "end of template",
        TokenKind.BlockEnd => "end of statement block",
        TokenKind.VariableEnd => "end of print statement",
        TokenKind.String => "string literal",
        TokenKind.Text => "template text",
        _ => $"'{Text}'",
    };
}
