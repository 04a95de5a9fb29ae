using System.Globalization;

namespace Sluice.Server.Routes.ChatCompletions;

/// <summary>Tool call ids: the request's id, the choice and the call's place, so a stream and its answer agree.</summary>
internal static class ToolCallIds
{
    public static string Of(string requestId, int choice, int call) =>
        string.Create(CultureInfo.InvariantCulture, $"call_{requestId}_{choice}_{call}");
}
