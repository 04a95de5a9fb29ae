using System.Globalization;
using Sluice.Engine.Tokenization;
using Sluice.Hosting.Errors;

namespace Sluice.Server.Requests;

/// <summary>The context-length error of a prompt refused while it was tokenized.</summary>
internal static class PromptErrors
{
    /// <summary>A prompt with more tokens than the context holds; <paramref name="param"/> is the field it came from.</summary>
    public static ApiException TooLong(TokenLimitExceededException ex, string param) =>
        ApiException.TooLong(string.Create(CultureInfo.InvariantCulture,
            $"This model's maximum context length is {ex.Limit} tokens, but the prompt ({ex.Characters:N0} characters) has more than {ex.Limit} tokens; shorten it."), param);
}
