namespace Sluice.Hosting.Requests;

/// <summary>The client stopped sending (e.g. the body ended before its Content-Length): nobody is left to answer.</summary>
public sealed class ClientGoneException(string message, Exception inner) : Exception(message, inner);
