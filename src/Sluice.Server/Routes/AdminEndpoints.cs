using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Http;
using Sluice.Engine.Kernels;
using Sluice.Server.Health;
using Sluice.Server.Hosting;

namespace Sluice.Server.Routes;

/// <summary>
/// GET /version, POST /admin/warmup (a short generation through every code path, e.g. after a deploy) and POST
/// /admin/reset-prefix-cache (vLLM's /reset_prefix_cache: after a weights or template change, or to measure cold prefill).
/// </summary>
internal sealed class AdminEndpoints(ServingContext serving)
{
    public Task VersionAsync(HttpContext http)
    {
        var version = typeof(AdminEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        return Json.WriteAsync(http, new VersionReport(version, RuntimeInformation.FrameworkDescription, CpuInfo.Model, Simd.Path, Simd.Describe()), HealthJson.Default.VersionReport);
    }

    public async Task WarmupAsync(HttpContext http)
    {
        var engine = serving.RequireReady();
        var took = await Warmup.RunAsync(engine, serving.Host.Chat!, serving.Host.Model!.Tokenizer, http.RequestAborted);
        await Json.WriteAsync(http, new WarmupReport("ok", Math.Round(took.TotalMilliseconds, 3)), HealthJson.Default.WarmupReport);
    }

    public async Task ResetPrefixCacheAsync(HttpContext http)
    {
        var engine = serving.RequireReady();
        int forgotten = await engine.ResetPrefixCacheAsync().WaitAsync(http.RequestAborted);
        await Json.WriteAsync(http, new PrefixCacheResetReport("ok", forgotten, engine.Options.EnablePrefixCaching), HealthJson.Default.PrefixCacheResetReport);
    }
}
