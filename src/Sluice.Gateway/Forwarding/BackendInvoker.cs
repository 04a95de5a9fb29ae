using System.Diagnostics;
using System.Net;
using Sluice.Gateway.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Sluice.Gateway.Forwarding;

/// <summary>
/// The HTTP client the gateway forwards with (YARP's recommended handler settings: no proxy, no redirects, no
/// decompression, no cookies). Rebuilt when the connect timeout changes; the previous one is left to requests still on it.
/// </summary>
public sealed class BackendInvoker
{
    private readonly Lock _lock = new();
    private (TimeSpan Connect, HttpMessageInvoker Invoker)? _current;

    public HttpMessageInvoker For(TimeoutSettings timeouts)
    {
        lock (_lock)
        {
            if (_current is not { } c || c.Connect != timeouts.Connect)
            {
                _current = (timeouts.Connect, new HttpMessageInvoker(new SocketsHttpHandler
                {
                    UseProxy = false,
                    AllowAutoRedirect = false,
                    AutomaticDecompression = DecompressionMethods.None,
                    UseCookies = false,
                    ConnectTimeout = timeouts.Connect,
                    EnableMultipleHttp2Connections = true,
                    ActivityHeadersPropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current),
                }));
            }
            return _current.Value.Invoker;
        }
    }
}
