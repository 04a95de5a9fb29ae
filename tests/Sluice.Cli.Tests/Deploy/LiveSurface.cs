using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Sluice.Cli.Tests.Support;
using Sluice.Engine.Models;
using Sluice.Engine.Serving;
using Sluice.Gateway;
using Sluice.Hosting;
using Sluice.Server;
using Sluice.Server.Metrics;
using Sluice.Server.Observability;

namespace Sluice.Cli.Tests.Deploy;

/// <summary>
/// What a real `sluice serve` (with --metrics-compat vllm) and a real `sluice gateway` in front of it define: their
/// route tables (from ASP.NET Core's endpoint data source) and metric families (the # TYPE lines of /metrics), plus
/// the families the metric contracts (docs/metrics.md, docs/gateway.md; both contract-tested against the code) publish.
/// </summary>
internal sealed record LiveSurface(IReadOnlyList<string> Routes, IReadOnlySet<string> Metrics)
{
    public static async Task<LiveSurface> ReadAsync()
    {
        string model = TinyModels.HeadDim32();
        await using var server = SluiceServer.Create(new ServerOptions { Port = 0, Warmup = false },
            new EngineOptions { MaxNumSeqs = 2, KvCacheMemory = 1 << 20, Threads = 1 }, () => ModelLoader.Load(model),
            SluiceObservability.Hooks(new ObservabilityOptions { Metrics = new MetricsOptions { Compat = MetricsCompat.Vllm } }) with { Logging = _ => { } });
        await server.StartAsync();
        await server.Host.Settled;
        string config = Path.Combine(Path.GetTempPath(), $"sluice-gw-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(config, $"models:\n  - name: m\n    deployments:\n      - url: {server.Addresses[0].ToString().TrimEnd('/')}\n");
        try
        {
            await using var gateway = SluiceGateway.Create(new GatewayOptions
            {
                ConfigPath = config,
                MasterKey = "sk-admin-surface-test",
                Hosting = new SluiceHostingOptions { Port = 0 },
            }, _ => { });
            await gateway.StartAsync();
            var routes = new List<string>();
            var metrics = new HashSet<string>();
            foreach (var (services, address) in new[] { (server.Services, server.Addresses[0]), (gateway.Services, gateway.Addresses[0]) })
            {
                routes.AddRange(services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().Select(e => "/" + e.RoutePattern.RawText!.TrimStart('/')));
                using var http = new HttpClient { BaseAddress = address };
                http.DefaultRequestHeaders.Authorization = new("Bearer", "sk-admin-surface-test");
                string text = await http.GetStringAsync("/metrics");
                metrics.UnionWith(Regex.Matches(text, @"^# TYPE (\S+) ", RegexOptions.Multiline).Select(m => m.Groups[1].Value));
            }
            foreach (var doc in new[] { "docs/metrics.md", "docs/gateway.md" })
            {
                metrics.UnionWith(Regex.Matches(RepoFiles.Read(doc), @"^\| `([a-z_:0-9]+)` \|", RegexOptions.Multiline).Select(m => m.Groups[1].Value));
            }
            return new LiveSurface(routes, metrics);
        }
        finally
        {
            File.Delete(config);
        }
    }
}
