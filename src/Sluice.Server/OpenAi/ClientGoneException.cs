namespace Sluice.Server.OpenAi;

/// <summary>The client stopped sending (e.g. the body ended before its Content-Length): nobody is left to answer.</summary>
internal sealed class ClientGoneException(string message, Exception inner) : Exception(message, inner);
