using System.Diagnostics;
using System.Net;
using Sluice.Gateway.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Sluice.Gateway.Forwarding;

/// <summary>
/// The HTTP client the gateway forwards with (YARP's recommended handler settings: no proxy, no redirects, no
/// decompression, no cookies). Rebuilt when the connect timeout changes; the previous one is left to requests still on it.
/// Every request asks for it: the current one is read without a lock, the lock only taken to build a new one.
/// </summary>
public sealed class BackendInvoker
{
    private sealed record Current(TimeSpan Connect, HttpMessageInvoker Invoker);

    private readonly Lock _lock = new();
    private Current? _current;

    public HttpMessageInvoker For(TimeoutSettings timeouts)
    {
        if (Volatile.Read(ref _current) is { } c && c.Connect == timeouts.Connect)
        {
            return c.Invoker;
        }
        lock (_lock)
        {
            if (_current is not { } now || now.Connect != timeouts.Connect)
            {
                Volatile.Write(ref _current, new Current(timeouts.Connect, new HttpMessageInvoker(new SocketsHttpHandler
                {
                    UseProxy = false,
                    AllowAutoRedirect = false,
                    AutomaticDecompression = DecompressionMethods.None,
                    UseCookies = false,
                    ConnectTimeout = timeouts.Connect,
                    EnableMultipleHttp2Connections = true,
                    ActivityHeadersPropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current),
                })));
            }
            return _current!.Invoker;
        }
    }
}
