namespace Sluice.Engine.Tokenization;

/// <summary>
/// A text has more tokens than the caller's limit: thrown as soon as that is certain, before the rest of
/// the text is tokenized, so a huge prompt costs neither the time nor the memory of tokenizing it all.
/// </summary>
public sealed class TokenLimitExceededException(int limit, long characters)
    : Exception($"the text ({characters:N0} characters) has more than {limit:N0} tokens")
{
    public int Limit { get; } = limit;
    public long Characters { get; } = characters;
}
