using System.Net;
using System.Text;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Management;

/// <summary>The gateway's /debug/trace and /debug/heap: the server's, behind the master key.</summary>
public sealed class DiagnosticsTests
{
    [Fact]
    public async Task Trace_WithTheMasterKey_IsANettrace_WithoutItIsRefused()
    {
        await using var g = await TestGateway.StartAsync(TestGateway.Config("demo", [(new Uri("http://127.0.0.1:9"), "v1", 1)]));
        Assert.Equal(HttpStatusCode.Forbidden, (await g.Client.GetAsync("/debug/trace?seconds=1")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await g.Client.GetAsync("/debug/heap")).StatusCode);
        var bad = await g.Admin.GetAsync("/debug/trace?seconds=600");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("1 to 60", await bad.Content.ReadAsStringAsync());
        var trace = await g.Admin.GetAsync("/debug/trace?seconds=1");
        Assert.Equal(HttpStatusCode.OK, trace.StatusCode);
        byte[] bytes = await trace.Content.ReadAsByteArrayAsync();
        Assert.Equal("Nettrace", Encoding.ASCII.GetString(bytes, 0, 8));
    }
}
