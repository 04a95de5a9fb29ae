namespace Sluice.Gateway.Configuration;

/// <summary>A configuration file that cannot be served: the message names the file and the field (<c>models[1].deployments[0].url</c>).</summary>
public sealed class GatewayConfigException(string message, Exception? inner = null) : Exception(message, inner);
