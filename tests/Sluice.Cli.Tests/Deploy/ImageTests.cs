using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Sluice.Cli.Tests.Support;

namespace Sluice.Cli.Tests.Deploy;

/// <summary>
/// deploy/docker/Dockerfile built and run for real: deploy/docker/build-offline.sh makes the bases from Debian packages
/// (debootstrap + `docker import`, this machine's .NET and NuGet packages) and builds with no network; the container then
/// serves as Kubernetes runs it (user 1654, read-only root, /tmp writable). Skipped when no Docker daemon, debootstrap or
/// root is here (test.sh starts a private dockerd when Debian's docker.io is installed, and installs it under CI=true).
/// </summary>
public sealed class ImageTests
{
    private const string Tag = "sluice:test";

    private static readonly Lazy<(int Rc, string Output)> Built = new(() =>
        Tools.Run(RepoFiles.PathOf("deploy/docker/build-offline.sh"), [Tag], RepoFiles.Root,
            ("SLUICE_ROOTFS_CACHE", Path.Combine(Path.GetTempPath(), "sluice-rootfs-bookworm"))));

    [SkippableFact]
    public async Task Image_BuiltOffline_ServesAsKubernetesRunsIt_AndDrainsOnSigterm()
    {
        string docker = RequireDocker();
        var (rc, output) = Built.Value;
        Assert.True(rc == 0, $"build-offline.sh: {Tail(output)}");
        var (_, user) = Tools.Run(docker, ["image", "inspect", "-f", "{{.Config.User}}", Tag]);
        Assert.Equal("1654:1654", user.Trim());

        int port = FreePort();
        string name = $"sluice-image-test-{Guid.NewGuid():N}";
        var (runRc, run) = Tools.Run(docker, ["run", "-d", "--name", name, "--network", "host", "--read-only", "--tmpfs", "/tmp",
            Tag, "serve", "--host", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--shutdown-timeout", "10"]);
        Assert.True(runRc == 0, run);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            var ready = await WaitReadyAsync(http, TimeSpan.FromMinutes(3));
            Assert.True(ready, $"not ready: {Tools.Run(docker, ["logs", name]).Output}");
            using var models = JsonDocument.Parse(await http.GetStringAsync("/v1/models"));
            string model = models.RootElement.GetProperty("data")[0].GetProperty("id").GetString()!;
            using var response = await http.PostAsync("/v1/completions", new StringContent(
                $$"""{"model":"{{model}}","prompt":"In the beginning","max_tokens":8,"temperature":0}""", System.Text.Encoding.UTF8, "application/json"));
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            using var completion = JsonDocument.Parse(body);
            Assert.False(string.IsNullOrEmpty(completion.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()));

            // SIGTERM (docker stop, as the kubelet after preStop): the server drains and exits 0 before the kill
            var (stopRc, stop) = Tools.Run(docker, ["stop", "-t", "30", name]);
            Assert.True(stopRc == 0, stop);
            var (_, exit) = Tools.Run(docker, ["inspect", "-f", "{{.State.ExitCode}}", name]);
            Assert.Equal("0", exit.Trim());
        }
        finally
        {
            Tools.Run(docker, ["rm", "-f", name]);
        }
    }

    [SkippableFact]
    public void Image_GivenAFlagServeDoesNotHave_ExitsNamingIt()
    {
        string docker = RequireDocker();
        var (rc, output) = Built.Value;
        Assert.True(rc == 0, $"build-offline.sh: {Tail(output)}");
        var (runRc, run) = Tools.Run(docker, ["run", "--rm", "--network", "none", Tag, "serve", "--max-num-seq", "4"]);
        Assert.NotEqual(0, runRc);
        Assert.Contains("--max-num-seq", run);
    }

    private static string RequireDocker()
    {
        string? docker = Tools.Find("docker");
        Skip.If(docker is null, "no docker client (Debian package docker.io)");
        Skip.If(Tools.Find("debootstrap") is null, "no debootstrap (Debian package debootstrap) to make the base image");
        Skip.If(Environment.UserName != "root", "debootstrap needs root");
        var (rc, info) = Tools.Run(docker!, ["info", "--format", "{{.ServerVersion}}"]);
        Skip.If(rc != 0, $"no Docker daemon reachable (test.sh starts one when dockerd is installed): {info.Trim()}");
        return docker!;
    }

    private static async Task<bool> WaitReadyAsync(HttpClient http, TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < until)
        {
            try
            {
                using var r = await http.GetAsync("/health/ready");
                if (r.StatusCode == HttpStatusCode.OK)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(500);
        }
        return false;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Tail(string text) => text.Length > 3000 ? text[^3000..] : text;
}
