using System.Buffers.Binary;
using System.Net;
using System.Text;
using System.Text.Json;
using Sluice.Hosting.Diagnostics;
using Sluice.Server.Observability;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Observability;

/// <summary>GET /debug/trace (a .nettrace from an in-process EventPipe session) and GET /debug/heap (a dump with the heap), behind the key.</summary>
public sealed class DiagnosticsEndpointTests
{
    private static Task<TestServer> StartAsync(DiagnosticsOptions? diagnostics = null) =>
        TestServer.StartAsync(new ServerOptions { ApiKeys = ["sk-diag"] },
            hooks: SluiceObservability.Hooks(new ObservabilityOptions { Diagnostics = diagnostics ?? new DiagnosticsOptions() }));

    [Fact]
    public async Task Trace_OneSecond_IsANettraceFileOfSaneSize()
    {
        await using var t = await StartAsync();
        var response = await t.Client.GetAsync("/debug/trace?seconds=1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(".nettrace", response.Content.Headers.ContentDisposition?.ToString());
        byte[] trace = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal("Nettrace", Encoding.ASCII.GetString(trace, 0, 8));
        Assert.Contains("!FastSerialization.1", Encoding.ASCII.GetString(trace, 0, 64));
        // a second of samples with the rundown of every loaded method: well over a few KB, well under the 256 MB buffer
        Assert.InRange(trace.Length, 16 << 10, 256 << 20);
    }

    [Theory]
    [InlineData("61", "60")]
    [InlineData("0", "60")]
    [InlineData("abc", "60")]
    [InlineData("1.5", "60")]
    public async Task Trace_OutOfRangeOrMalformedSeconds_Is400NamingTheLimit(string seconds, string limit)
    {
        await using var t = await StartAsync();
        var (status, message) = await ErrorAsync(await t.Client.GetAsync($"/debug/trace?seconds={seconds}"));
        Assert.Equal(400, status);
        Assert.Contains($"1 to {limit}", message);
        Assert.Contains("--debug-trace-max-seconds", message);
    }

    [Fact]
    public async Task Trace_LongerThanAConfiguredLimit_Is400NamingThatLimit()
    {
        await using var t = await StartAsync(new DiagnosticsOptions { MaxTraceSeconds = 5 });
        var (status, message) = await ErrorAsync(await t.Client.GetAsync("/debug/trace?seconds=6"));
        Assert.Equal(400, status);
        Assert.Contains("1 to 5", message);
    }

    [Fact]
    public async Task Trace_WhileAnotherRuns_Is409_ThenAllowedAgain()
    {
        await using var t = await StartAsync();
        var first = await t.Client.GetAsync("/debug/trace?seconds=3", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var (status, message) = await ErrorAsync(await t.Client.GetAsync("/debug/trace?seconds=1"));
        Assert.Equal(409, status);
        Assert.Contains("already running", message);
        await first.Content.ReadAsByteArrayAsync(); // the first ends
        Assert.Equal(HttpStatusCode.OK, (await t.Client.GetAsync("/debug/trace?seconds=1")).StatusCode);
    }

    [Fact]
    public async Task DebugRoutes_WithoutTheKey_Are401()
    {
        await using var t = await StartAsync();
        using var anonymous = new HttpClient { BaseAddress = t.BaseUri };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/debug/trace?seconds=1")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/debug/heap")).StatusCode);
    }

    [SkippableFact]
    public async Task Heap_IsAnElfCoreDumpOfTheProcess()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "createdump writes an ELF core on Linux; other systems write other formats");
        await using var t = await StartAsync();
        var response = await t.Client.GetAsync("/debug/heap", HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            Assert.Fail($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
        long? length = response.Content.Headers.ContentLength;
        await using var body = await response.Content.ReadAsStreamAsync();
        var header = new byte[64];
        await body.ReadExactlyAsync(header);
        Assert.Equal([0x7F, (byte)'E', (byte)'L', (byte)'F'], header[..4]);
        Assert.Equal(2, header[4]); // ELFCLASS64
        Assert.Equal(4, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(16))); // e_type ET_CORE
        long total = header.Length;
        var buffer = new byte[1 << 20];
        for (int n; (n = await body.ReadAsync(buffer)) > 0;)
        {
            total += n;
        }
        Assert.Equal(length, total);
        Assert.True(total > GC.GetTotalMemory(false) / 2, $"a {total}-byte dump cannot hold the managed heap");
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), $"sluice-heap-{Environment.ProcessId}-*")); // deleted once sent
    }

    private static async Task<(int Status, string Message)> ErrorAsync(HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return ((int)response.StatusCode, doc.RootElement.GetProperty("error").GetProperty("message").GetString()!);
    }
}
