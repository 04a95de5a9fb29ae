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
        // the SDK appends +SourceRevisionId (a release build passes -p:SourceRevisionId=$(git rev-parse HEAD))
        var informational = typeof(AdminEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        int plus = informational.IndexOf('+', StringComparison.Ordinal);
        var host = serving.Host;
        var engine = host.Engine;
        var report = new VersionReport(plus < 0 ? informational : informational[..plus], plus < 0 ? null : informational[(plus + 1)..],
            RuntimeInformation.FrameworkDescription, CpuInfo.Model, Simd.Path, Simd.Describe())
        {
            Threads = engine?.Threads,
            Model = engine is null ? null : host.Name,
            ModelPath = serving.Options.ModelPath,
            ModelSha256 = host.Digest.Sha256,
            ModelSha256Status = host.Digest.Status,
            Engine = engine is null ? null : new Dictionary<string, string>
            {
                ["max_model_len"] = Text(engine.MaxModelLen),
                ["max_num_seqs"] = Text(engine.Options.MaxNumSeqs),
                ["max_num_batched_tokens"] = Text(engine.Options.MaxNumBatchedTokens),
                ["block_size"] = Text(engine.Options.BlockSize),
                ["kv_blocks"] = Text(engine.KvBlocks),
                ["kv_cache_bytes"] = Text(engine.KvCacheBytes),
                ["kv_cache_dtype"] = engine.Options.KvCacheType.ToString().ToLowerInvariant(),
                ["enable_prefix_caching"] = engine.Options.EnablePrefixCaching ? "true" : "false",
                ["scheduling_policy"] = engine.Options.SchedulingPolicy.ToString().ToLowerInvariant(),
            },
            Config = serving.Options.Settings,
        };
        return Json.WriteAsync(http, report, HealthJson.Default.VersionReport);
    }

    private static string Text(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

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
