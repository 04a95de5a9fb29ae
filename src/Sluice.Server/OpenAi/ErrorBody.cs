using System.Text.Json;
using Sluice.OpenAi;

namespace Sluice.Server.OpenAi;

/// <summary>Writes OpenAI's error object: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
internal static class ErrorBody
{
    public static byte[] Json(ApiException error) => JsonSerializer.SerializeToUtf8Bytes(error.ToResponse(), OpenAiJson.Web.ErrorResponse);
}
