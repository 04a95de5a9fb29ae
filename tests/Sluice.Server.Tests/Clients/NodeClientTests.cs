using System.Diagnostics;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Clients;

/// <summary>The official `openai` npm package, run by Node from tests/node-client (test.sh installs it with npm ci).</summary>
public sealed class NodeClientTests
{
    private static string? FindClientFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "node-client");
            if (File.Exists(Path.Combine(candidate, "client.mjs")))
            {
                return candidate;
            }
        }
        return null;
    }

    [SkippableFact]
    public async Task OfficialNodeSdk_CompletionsChatStreamingAndAnError()
    {
        string? folder = FindClientFolder();
        bool installed = folder != null && Directory.Exists(Path.Combine(folder, "node_modules", "openai"));
        bool ci = Environment.GetEnvironmentVariable("CI") == "true";
        Skip.If(!installed && !ci, "tests/node-client has no node_modules: run `npm ci` there (test.sh does)");
        Assert.True(installed, "tests/node-client/node_modules is missing; test.sh runs npm ci there");

        await using var t = await TestServer.StartAsync(new ServerOptions { ApiKeys = ["sk-node"] });
        var start = new ProcessStartInfo("node", [Path.Combine(folder!, "client.mjs"), new Uri(t.BaseUri, "/v1").ToString(), "sk-node"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = folder,
        };
        using var node = Process.Start(start)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await node.WaitForExitAsync(cts.Token);
        Assert.True(node.ExitCode == 0, $"node client failed:\n{await stdout}\n{await stderr}");
        Assert.Contains("all checks passed", await stdout);
    }
}
