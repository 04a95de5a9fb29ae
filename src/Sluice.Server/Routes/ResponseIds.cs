namespace Sluice.Server.Routes;

/// <summary>Response ids and timestamps as OpenAI writes them.</summary>
internal static class ResponseIds
{
    public static string Completion(string requestId) => "cmpl-" + requestId;

    public static string Chat(string requestId) => "chatcmpl-" + requestId;

    public static long Created(TimeProvider time) => time.GetUtcNow().ToUnixTimeSeconds();
}
