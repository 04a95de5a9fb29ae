using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace Sluice.Server.Routes;

/// <summary>Writes a JSON response body with a source-generated serializer.</summary>
internal static class Json
{
    public static Task WriteAsync<T>(HttpContext http, T value, JsonTypeInfo<T> type, int status = StatusCodes.Status200OK)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(http.Response.Body, value, type, http.RequestAborted);
    }
}
