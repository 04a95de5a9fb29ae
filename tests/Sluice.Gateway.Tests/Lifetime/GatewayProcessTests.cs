using System.Diagnostics;
using System.Globalization;
using System.Net;
using Sluice.Gateway.Tests.Support;

namespace Sluice.Gateway.Tests.Lifetime;

/// <summary>`sluice gateway` as its users run it: a child process, a stream through it, then SIGTERM.</summary>
[Collection(ReplicaCollection.Name)]
public sealed class GatewayProcessTests(ServeReplicas replicas)
{
    [Fact]
    public async Task Sigterm_LetsTheStreamInFlightFinishAndExitsZero()
    {
        string config = Path.GetTempFileName();
        await File.WriteAllTextAsync(config, TestGateway.Config("demo", [(replicas.Urls[0], "v1", 1)]));
        var start = new ProcessStartInfo("dotnet",
            [Path.Combine(AppContext.BaseDirectory, "sluice.dll"), "gateway", "--config", config, "--port", "0", "--shutdown-timeout", "60", "--log-level", "info"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            Uri? url = null;
            while (url is null && await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) is { } line)
            {
                const string Prefix = "sluice gateway: listening on ";
                if (line.StartsWith(Prefix, StringComparison.Ordinal))
                {
                    url = new Uri(line[Prefix.Length..]);
                }
            }
            Assert.NotNull(url);
            var stdout = process.StandardOutput.ReadToEndAsync();
            using var client = new HttpClient { BaseAddress = url };
            using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
            {
                Content = Requests.Completion("demo", 1900, stream: true),
            }, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (await reader.ReadLineAsync() is { } line && !line.StartsWith("data: {", StringComparison.Ordinal))
            {
            }
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }
            using var fresh = new HttpClient { BaseAddress = url };
            var late = HttpStatusCode.OK;
            for (int i = 0; i < 200 && late == HttpStatusCode.OK; i++)
            {
                late = (await fresh.GetAsync("/health/ready")).StatusCode;
            }
            Assert.Equal(HttpStatusCode.ServiceUnavailable, late);

            string rest = await reader.ReadToEndAsync();
            Assert.EndsWith("data: [DONE]", rest.TrimEnd(), StringComparison.Ordinal);
            // the backend ran to max_tokens: the stream was not cut by the shutdown
            Assert.Contains("\"finish_reason\":\"length\"", rest, StringComparison.Ordinal);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}: {await stderr}");
            string output = await stdout;
            Assert.Contains("sluice gateway: stopped", output, StringComparison.Ordinal);
            // the drain found the stream still running and waited for it
            Assert.Contains("for 1 in-flight", output, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            File.Delete(config);
        }
    }
}
